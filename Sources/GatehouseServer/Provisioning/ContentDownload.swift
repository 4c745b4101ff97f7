import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

extension GatehouseApp {
    /// A content blob as an answer: the stored Content-Type, `Accept-Ranges`, an `ETag` (the
    /// blob's SHA-256), `304` for a matching `If-None-Match`, one `Range` (`X-Y`, `X-`, `-Y`) as
    /// `206` with `Content-Range`, `416` when it is unsatisfiable. The body streams chunk by
    /// chunk from the store, so a large blob is never held whole in memory.
    func contentResponse(_ request: Request, _ item: ContentItem) throws -> Response {
        guard let sha = item.sha256 else { throw GatehouseError.notFound("content", item.name) }
        let etag = "\"\(sha)\""
        var headers: HTTPFields = [
            .acceptRanges: "bytes",
            .eTag: etag,
            .lastModified: ProvisioningReply.httpDate(item.updatedAt),
        ]
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: {
            let tag = $0.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }) {
            return Response(status: .notModified, headers: headers)
        }
        var range = ByteRange.resolve(request.headers[.range], size: item.size)
        // A stale If-Range (the blob changed since the client's partial copy) asks for the whole blob.
        if let ifRange = request.headers[.ifRange], ifRange.trimmingCharacters(in: .whitespaces) != etag { range = .whole }
        let status: HTTPResponse.Status
        let first: Int64, last: Int64
        switch range {
        case .whole:
            (status, first, last) = (.ok, 0, item.size - 1)
        case .partial(let from, let to):
            (status, first, last) = (.partialContent, from, to)
            headers[.contentRange] = "bytes \(from)-\(to)/\(item.size)"
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(item.size)"
            headers[.contentType] = ProvisioningReply.textType
            return Response(status: .rangeNotSatisfiable, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "the range is outside the content's \(item.size) bytes")))
        }
        headers[.contentType] = item.contentType ?? "application/octet-stream"
        let length = Int(max(0, last - first + 1))
        headers[.contentLength] = String(length)
        if request.method == .head { return Response(status: status, headers: headers) }
        let provisioning = self.provisioning
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: length) { writer in
            try await provisioning.stream(item, first: first, last: last) { buffer in try await writer.write(buffer) }
            try await writer.finish(nil)
        })
    }
}
