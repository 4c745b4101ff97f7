import GatehouseCore
import Testing

@Suite("Range headers and CSV of the provisioning API")
struct ProvisioningFormatTests {
    /// `bytes=X-Y`, `bytes=X-` and `bytes=-Y` resolve to inclusive ranges, clamped to the end.
    @Test func satisfiableRanges() {
        #expect(ByteRange.resolve("bytes=0-99", size: 1000) == .partial(first: 0, last: 99))
        #expect(ByteRange.resolve("bytes=0-0", size: 1000) == .partial(first: 0, last: 0))
        #expect(ByteRange.resolve("bytes=999-999", size: 1000) == .partial(first: 999, last: 999))
        #expect(ByteRange.resolve("bytes=500-5000", size: 1000) == .partial(first: 500, last: 999))
        #expect(ByteRange.resolve("bytes=100-", size: 1000) == .partial(first: 100, last: 999))
        #expect(ByteRange.resolve("bytes=-100", size: 1000) == .partial(first: 900, last: 999))
        #expect(ByteRange.resolve("bytes=-2000", size: 1000) == .partial(first: 0, last: 999))
        #expect(ByteRange.resolve("BYTES=1-2", size: 1000) == .partial(first: 1, last: 2))
        #expect(ByteRange.resolve("  bytes= 3 - 4 ", size: 1000) == .partial(first: 3, last: 4))
    }

    /// A well-formed range that starts at or beyond the end (or an empty suffix) is unsatisfiable.
    @Test func unsatisfiableRanges() {
        #expect(ByteRange.resolve("bytes=1000-", size: 1000) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=1000-2000", size: 1000) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=5000-5000", size: 1000) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=-0", size: 1000) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=-5", size: 0) == .unsatisfiable)
    }

    /// No header, a malformed one, a reversed range or several ranges: the whole body.
    @Test func malformedOrMultipleRangesServeTheWhole() {
        let headers: [String?] = [
            nil, "", "bytes", "bytes=", "bytes=-", "bytes=abc", "bytes=a-b", "bytes=5-2", "items=0-1", "bytes=0-1,5-6", "bytes=0-1, 5-6",
            "bytes=1-2-3", "bytes=+1-2", "bytes=0x10-", "bytes=99999999999999999999-", "bytes=--5",
        ]
        for header in headers {
            #expect(ByteRange.resolve(header, size: 1000) == .whole, "\(String(describing: header))")
        }
    }

    /// Fields holding commas, quotes or line breaks are quoted, quotes doubled.
    @Test func renderQuotesWhereNeeded() {
        #expect(ProvisioningCSV.render([["a", "b,c", "say \"hi\"", "line\nbreak", "cr\rhere"], ["", "x"]])
            == "a,\"b,c\",\"say \"\"hi\"\"\",\"line\nbreak\",\"cr\rhere\"\n,x")
        #expect(ProvisioningCSV.field("plain") == "plain")
    }

    /// What render writes, parse reads back unchanged, whatever the fields hold.
    @Test func renderParseRoundTrip() throws {
        let rows: [[String]] = [
            ["SN-1", "plain", ""],
            ["SN-2", "comma, inside", "\"quoted\""],
            ["SN-3", "two\nlines", "crlf\r\ninside"],
            ["SN-4", " leading", "trailing\t"],
            ["SN-5", "", "é ✓ 日本"],
            ["", "", ""],
            ["\"", ",", "\"\""],
        ]
        let text = ProvisioningCSV.render(rows)
        #expect(try ProvisioningCSV.parse(Array(text.utf8)) == rows)
        #expect(try ProvisioningCSV.parse(Array((text + "\n").utf8)) == rows)
    }

    /// `\r\n` line ends are accepted, blank lines skipped, whitespace around unquoted fields trimmed.
    @Test func parseLineEndsAndBlanks() throws {
        #expect(try ProvisioningCSV.parse(Array("a,b\r\nc,d\r\n".utf8)) == [["a", "b"], ["c", "d"]])
        #expect(try ProvisioningCSV.parse(Array("\n a , b \n\r\n\nc,\n".utf8)) == [["a", "b"], ["c", ""]])
        #expect(try ProvisioningCSV.parse(Array("x,\"y\"\"z\"\r\n\"multi\r\nline\",w".utf8)) == [["x", "y\"z"], ["multi\r\nline", "w"]])
        #expect(try ProvisioningCSV.parse([]) == [])
    }

    /// An unterminated quoted field, or bytes that are not UTF-8, are `invalid_request`.
    @Test func parseRejectsBrokenBodies() {
        for body in [Array("a,\"b\nc".utf8), Array("\"".utf8), Array("ok\n\"open,".utf8), [0x61, 0x2c, 0xff, 0xfe]] {
            do {
                let rows = try ProvisioningCSV.parse(body, field: "sn")
                Issue.record("parsed \(body) as \(rows)")
            } catch {
                #expect(error.code == .invalidRequest && error.field == "sn", "\(error)")
            }
        }
    }
}
