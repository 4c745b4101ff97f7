import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

/// A console form with a file, as a browser sends it (`multipart/form-data`): the fields
/// before the file, already read, and the file part, ready to be read as it arrives.
///
/// The form token travels in the form's `csrf` field as in every console form; the file must
/// be the form's last field (browsers send fields in page order, so the template puts the file
/// input last), which lets the checks run before a byte of the file is stored.
struct ConsoleUpload {
    typealias Reader = MultipartFormReader<RequestBody.AsyncIterator>

    /// The fields sent before the file.
    let fields: ConsoleForm
    /// The file field's headers, if the form has one.
    let file: Reader.Part?
    let reader: Reader

    /// Whether a file was chosen (a browser sends an empty file name when none was).
    var hasFile: Bool { file?.filename?.isEmpty == false }
    /// The chosen file's name, for messages ("" when none).
    var filename: String { file?.filename ?? "" }

    /// The whole file, at most `limit` bytes (`payload_too_large` beyond); the file must be the last field.
    func collectFile(limit: Int) async throws -> ByteBuffer {
        let bytes = try await reader.collect(limit: limit, what: "the file")
        try await requireEnd()
        return bytes
    }

    /// The file's bytes as they arrive; the sequence fails (and so the consumer stores nothing)
    /// when the body is cut short or another field follows the file.
    var fileBody: FileBody { FileBody(upload: self) }

    struct FileBody: AsyncSequence {
        typealias Element = ByteBuffer
        let upload: ConsoleUpload

        struct AsyncIterator: AsyncIteratorProtocol {
            let upload: ConsoleUpload
            var done = false
            mutating func next() async throws -> ByteBuffer? {
                guard !done else { return nil }
                if let chunk = try await upload.reader.nextChunk() { return chunk }
                done = true
                try await upload.requireEnd()
                return nil
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(upload: upload) }
    }

    /// Throws unless the form ends after the file.
    func requireEnd() async throws {
        if try await reader.nextPart() != nil {
            throw GatehouseError(.invalidRequest, "the file must be the last field of the form")
        }
    }
}

extension ConsoleRoutes {
    typealias UploadHandler = @Sendable (Request, GatehouseRequestContext, ConsoleSession, ConsoleUpload) async throws -> Response

    /// A POST form with a file (`multipart/form-data`, parsed by ``MultipartFormReader``) for
    /// signed-in users, with the checks of ``action(_:_:)``: the session (else 303 to sign-in),
    /// the same origin, and the form token in the `csrf` field, which must come before the file
    /// (else 403, and nothing of the file is read or stored). Fields before the file are at
    /// most ``ConsoleForm/maxBytes`` in all; a body that is not a well-formed form is a 400 page.
    func upload(_ path: RouterPath, fileField: String, _ handler: @escaping UploadHandler) {
        let console = console, app = app
        router.post(path) { request, context in
            await Self.guarded(console, context) {
                guard let session = try await ConsoleSession.resolve(request, console: console, management: app.management, provisioning: app.provisioning) else {
                    return Console.redirect(to: ConsolePaths.signIn)
                }
                try Self.requireSameOrigin(request, console: console)
                let reader = try ConsoleUpload.Reader(contentType: request.headers[.contentType], source: request.body.makeAsyncIterator())
                var values: [String: String] = [:]
                var textBytes = 0
                var file: ConsoleUpload.Reader.Part?
                while let part = try await reader.nextPart() {
                    if part.name == fileField || part.filename != nil {
                        guard part.name == fileField else { throw GatehouseError(.invalidRequest, "the form has an unexpected file field \(part.name)") }
                        file = part
                        break
                    }
                    let bytes = try await reader.collect(limit: ConsoleForm.maxBytes - textBytes, what: "the form's fields")
                    textBytes += bytes.readableBytes
                    guard let text = String(validating: bytes.readableBytesView, as: UTF8.self) else {
                        throw GatehouseError(.invalidRequest, "the form's field \(part.name) is not UTF-8")
                    }
                    values[part.name] = text
                }
                guard ConsoleSession.formTokenMatches(values["csrf"], secret: session.token) else { throw Self.formRefused }
                return try await handler(request, context, session, ConsoleUpload(fields: ConsoleForm(values: values), file: file, reader: reader))
            }
        }
    }
}
