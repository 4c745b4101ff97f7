import Foundation
import GatehouseCore
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Answers a request whose head cannot be parsed — headers over the decoder's limits (431),
/// bytes HTTP does not allow in the request line or a header (400) — and closes the connection.
///
/// Behind the WebSocket upgrade (the device channel), such a request would otherwise get no
/// answer at all and the connection would stay open: the upgrade negotiation fails on the
/// parser error and nothing writes a response or closes it. The handler sits right after the
/// HTTP decoder and only acts before the first request of the connection got through; later
/// parser errors go on to Hummingbird, which answers 400 and closes.
final class MalformedRequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny

    private var passedRequest = false
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        passedRequest = true
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, !passedRequest else {
            context.fireErrorCaught(error)
            return
        }
        guard !answered else { return }
        answered = true
        let failure = parserError == .headerOverflow
            ? GatehouseError(.headersTooLarge, "the request headers are larger than the server accepts")
            : GatehouseError(.invalidRequest, "the request is not valid HTTP/1.1")
        let status = failure.code.httpStatus
        let body = (try? JSON.encoder.encode(APIErrorBody(error: .init(code: failure.code.rawValue, message: failure.message, field: nil, requestId: ""))))
            ?? Data()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status.code, reasonPhrase: status.reasonPhrase), headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// A server child channel that is `Base` with a ``MalformedRequestGuard`` after its HTTP decoder.
struct GuardedServerChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any NIOCore.Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            if let decoder = try? operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) {
                try operations.addHandler(MalformedRequestGuard(), position: .after(decoder))
            }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with a WebSocket upgrade, as `http1WebSocketUpgrade(configuration:shouldUpgrade:)`
    /// of HummingbirdWebSocket, that answers requests whose head cannot be parsed with 431 or
    /// 400 (see ``MalformedRequestGuard``) instead of leaving the connection open and silent.
    static func guardedHTTP1WebSocketUpgrade(
        configuration: HTTP1WebSocketUpgradeChannel.Configuration = .init(),
        shouldUpgrade: @escaping @Sendable (HTTPRequest, any NIOCore.Channel, Logger) async throws
            -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedServerChildChannel(base: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: configuration, shouldUpgrade: shouldUpgrade))
        }
    }

    /// Plain HTTP/1.1, as `http1()`, answering requests whose head cannot be parsed with 431 or
    /// 400 in Gatehouse's JSON form (Hummingbird alone answers a bare 400 to both).
    static func guardedHTTP1() -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedServerChildChannel(base: HTTP1Channel(responder: responder))
        }
    }
}
