/// Pictures of a ``QRCode``: PNG, SVG and Unicode text for a terminal. Each draws dark
/// modules black on white and surrounds the symbol with a light quiet zone of `border` modules
/// (the standard asks for 4).
public enum QRRender {
    /// A black-and-white PNG, `scale` pixels a module.
    public static func png(_ code: QRCode, scale: Int = 8, border: Int = 4) -> [UInt8] {
        let scale = max(1, scale), border = max(0, border)
        let side = (code.size + 2 * border) * scale
        return PNGWriter.blackAndWhite(width: side, height: side) { x, y in
            code.isDark(x: x / scale - border, y: y / scale - border)
        }
    }

    /// An SVG document: a white background and one `<path>` of the dark modules (a rectangle
    /// for each horizontal run), in module units scaled to `scale` pixels a module,
    /// drawn with `shape-rendering="crispEdges"`.
    public static func svg(_ code: QRCode, scale: Int = 8, border: Int = 4) -> String {
        let scale = max(1, scale), border = max(0, border)
        let side = code.size + 2 * border
        var path = ""
        for y in 0..<code.size {
            var x = 0
            while x < code.size {
                guard code.isDark(x: x, y: y) else { x += 1; continue }
                var end = x
                while code.isDark(x: end, y: y) { end += 1 }
                path += "M\(x + border) \(y + border)h\(end - x)v1h-\(end - x)z"
                x = end
            }
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(side * scale)" height="\(side * scale)" \
            viewBox="0 0 \(side) \(side)" shape-rendering="crispEdges">
            <rect width="\(side)" height="\(side)" fill="#ffffff"/>
            <path fill="#000000" d="\(path)"/>
            </svg>

            """
    }

    /// Unicode text for a terminal that shows dark text on a light background: each
    /// character holds two module rows (upper half block `▀`, lower half `▄`, full `█`, space),
    /// so a dark module is ink and a light one background. The quiet zone is spaces, so the
    /// terminal's background must be light; on a dark-background terminal the symbol shows
    /// inverted, which many phone scanners do not read (use PNG or SVG there). Ends with a newline.
    public static func terminal(_ code: QRCode, border: Int = 2) -> String {
        let border = max(0, border)
        let range = -border..<(code.size + border)
        var text = ""
        for y in stride(from: -border, to: code.size + border, by: 2) {
            for x in range {
                let top = code.isDark(x: x, y: y)
                let bottom = y + 1 < code.size + border && code.isDark(x: x, y: y + 1)
                text += top ? (bottom ? "█" : "▀") : (bottom ? "▄" : " ")
            }
            text += "\n"
        }
        return text
    }
}
