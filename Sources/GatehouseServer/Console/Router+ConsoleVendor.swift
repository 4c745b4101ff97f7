import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

extension GatehouseApp {
    /// The vendor's pages (issue 10, point 5; serial provisioning, seed 003): its models
    /// (list, create, change the activation window), a model's serial numbers with their
    /// status, a CSV upload of serials, and the model's content (upload a file with its
    /// version, delete). Every call is the `Provisioning` call of the vendor API, made as the
    /// vendor by a user who may act for it (`Provisioning.vendorCaller`: `manage_clients` and
    /// the vendor's node in the user's subtree, the rule that mints vendor tokens); the audit
    /// log names the user. Uploads are `multipart/form-data` forms (``ConsoleRoutes/upload(_:fileField:_:)``);
    /// `upload.js` sends the same form with upload progress, and without it the form still works.
    func addConsoleVendorPages(_ routes: ConsoleRoutes) {
        let console = routes.console
        routes.page("/console/vendors/:id/models") { _, context, session in
            try await vendorModelsPage(console, session, tenantId: try context.id())
        }
        routes.action("/console/vendors/:id/models") { _, context, session, form in
            let tenantId = try context.id()
            let vendor = try await provisioning.vendorCaller(session.caller, tenantId: tenantId)
            var typed = ConsoleVendorModelsPage.ModelForm(name: String(form.trimmed("model").prefix(200)), window: String(form.trimmed("window").prefix(40)))
            var errors = ConsoleFieldErrors()
            if typed.name.isEmpty { errors.add("Enter a name for the model.", field: "model") }
            let window = typed.window.isEmpty ? nil : Int64(typed.window)
            if !typed.window.isEmpty, window == nil { errors.add("Enter the window in whole seconds, for example 86400 for 24 hours.", field: "window") }
            if errors.isEmpty {
                do {
                    let made = try await provisioning.createModel(vendor, name: typed.name, window: window)
                    return Console.redirect(to: ConsolePaths.vendorModel(tenantId, made.name) + "?done=model-created")
                } catch let error as GatehouseError where error.field != nil {
                    errors.add(error, fields: ["model": "model", "window": "window"])
                }
            }
            typed.errors = errors.values
            return try await vendorModelsPage(console, session, tenantId: tenantId, create: typed, status: .unprocessableContent)
        }
        routes.page("/console/vendors/:id/models/:model") { request, context, session in
            let notice = Self.consoleVendorNotice(request)
            let offset = request.uri.queryParameters["offset"].flatMap { Int(String($0)) }.map { max(0, min($0, Int(Int32.max))) } ?? 0
            return try await vendorModelPage(console, session, tenantId: try context.id(), model: context.text("model"), offset: offset, notice: notice)
        }
        routes.action("/console/vendors/:id/models/:model/window") { _, context, session, form in
            let (tenantId, name) = (try context.id(), context.text("model"))
            let vendor = try await provisioning.vendorCaller(session.caller, tenantId: tenantId)
            var typed = ConsoleVendorModelPage.WindowForm(window: String(form.trimmed("window").prefix(40)))
            var errors = ConsoleFieldErrors()
            if let window = Int64(typed.window) {
                do {
                    try await provisioning.updateModel(vendor, name: name, window: window)
                    return Console.redirect(to: ConsolePaths.vendorModel(tenantId, name) + "?done=window-saved")
                } catch let error as GatehouseError where error.field == "window" {
                    errors.add(error, fields: ["window": "window"])
                }
            } else {
                errors.add("Enter the window in whole seconds, for example 86400 for 24 hours.", field: "window")
            }
            typed.errors = errors.values
            return try await vendorModelPage(console, session, tenantId: tenantId, model: name, window: typed, status: .unprocessableContent)
        }
        routes.upload("/console/vendors/:id/models/:model/serials", fileField: "file") { _, context, session, upload in
            let (tenantId, name) = (try context.id(), context.text("model"))
            let vendor = try await provisioning.vendorCaller(session.caller, tenantId: tenantId)
            _ = try await provisioning.model(vendor, name: name)
            var typed = ConsoleVendorModelPage.ImportForm(filename: String(upload.filename.prefix(200)))
            var status = HTTPResponse.Status.unprocessableContent
            if !upload.hasFile {
                typed.errors["file"] = "Choose a CSV file of serial numbers."
            } else {
                do {
                    // The import of POST /provision/manage/model/<model>/ with a text/csv body: the same limit, parser, checks and
                    // batched, all-or-none write; the rows are checked first only so that every refused row can be listed.
                    let bytes = try await upload.collectFile(limit: Self.serialCSVLimit)
                    let (count, problems) = try Provisioning.serialProblems(csv: bytes, limit: Self.consoleRowProblemLimit + 1)
                    if count == 0 {
                        typed.errors["file"] = "The file has no serial numbers: one per line, optionally followed by a comma and extra text."
                    } else if !problems.isEmpty {
                        typed.problems = problems.prefix(Self.consoleRowProblemLimit).map { .init(row: $0.row, sn: $0.sn, message: ConsoleFieldErrors.sentence($0.message)) }
                        typed.more = problems.count > Self.consoleRowProblemLimit
                        typed.errors["file"] = "Nothing was imported: "
                            + (problems.count == 1 ? "one row has a problem" : typed.more ? "more than \(Self.consoleRowProblemLimit) rows have problems" : "\(problems.count) rows have problems")
                            + " (listed below). Correct the file and upload it again."
                    } else {
                        try await provisioning.addSerials(vendor, model: name, csv: bytes)
                        return Console.redirect(to: ConsolePaths.vendorModel(tenantId, name) + "?done=serials-imported&count=\(count)")
                    }
                } catch let error as GatehouseError where [.conflict, .validationFailed, .invalidRequest, .payloadTooLarge].contains(error.code) && error.field != nil {
                    typed.errors["file"] = "Nothing was imported: " + ConsoleFieldErrors.sentence(error.message)
                } catch let error as GatehouseError where error.code == .payloadTooLarge {
                    typed.errors["file"] = "Nothing was imported: the file is larger than \(ConsoleFormat.bytes(Int64(Self.serialCSVLimit)))."
                    status = .contentTooLarge
                }
            }
            return try await vendorModelPage(console, session, tenantId: tenantId, model: name, upload: typed, status: status)
        }
        routes.upload("/console/vendors/:id/models/:model/content", fileField: "file") { _, context, session, upload in
            let (tenantId, name) = (try context.id(), context.text("model"))
            let vendor = try await provisioning.vendorCaller(session.caller, tenantId: tenantId)
            _ = try await provisioning.model(vendor, name: name)
            let form = upload.fields
            var typed = ConsoleVendorModelPage.ContentForm(contentId: String(form.trimmed("content_id").prefix(200)),
                                                           version: String(form.trimmed("version").prefix(1100)), isProtected: form["protected"] == "true")
            var errors = ConsoleFieldErrors()
            var status = HTTPResponse.Status.unprocessableContent
            if typed.contentId.isEmpty { errors.add("Enter an id for the content, for example firmware-2.1.0.", field: "content_id") }
            if typed.version.isEmpty { errors.add("Enter the version of the file.", field: "version") }
            if !upload.hasFile { errors.add("Choose the file to upload.", field: "file") }
            if errors.isEmpty {
                var created = false
                do {
                    _ = try await provisioning.createContent(vendor, model: name, id: typed.contentId, meta: typed.version, isProtected: typed.isProtected)
                    created = true
                    let item = try await provisioning.upload(vendor, model: name, id: typed.contentId, contentType: upload.file?.contentType,
                                                             declaredLength: nil, body: upload.fileBody)
                    return Console.redirect(to: ConsolePaths.vendorModel(tenantId, name) + "?done=content-uploaded&size=\(item.size)")
                } catch let error as GatehouseError {
                    // An entry without its file is half of an upload: take it away again.
                    if created { try? await provisioning.deleteContent(vendor, model: name, id: typed.contentId) }
                    switch error.code {
                    case .payloadTooLarge:
                        errors.add("The file is larger than \(ConsoleFormat.bytes(provisioning.maxContentBytes)); nothing was stored.", field: "file")
                        status = .contentTooLarge
                    case .conflict where error.field == "id":
                        errors.add("There is already content \(typed.contentId). Choose another id (for example with the version in it) or delete the old one first.",
                                   field: "content_id")
                    case .validationFailed where error.field != nil:
                        errors.add(error, fields: ["id": "content_id", "meta": "version", "Content-Type": "file"])
                    default:
                        throw error
                    }
                }
            }
            typed.errors = errors.values
            return try await vendorModelPage(console, session, tenantId: tenantId, model: name, content: typed, status: status)
        }
        routes.action("/console/vendors/:id/models/:model/content/:content/delete") { _, context, session, _ in
            let (tenantId, name) = (try context.id(), context.text("model"))
            let vendor = try await provisioning.vendorCaller(session.caller, tenantId: tenantId)
            try await provisioning.deleteContent(vendor, model: name, id: context.text("content"))
            return Console.redirect(to: ConsolePaths.vendorModel(tenantId, name) + "?done=content-deleted")
        }
    }

    /// How many refused rows of a CSV upload the page lists.
    static let consoleRowProblemLimit = 50

    /// The notice of `?done=` after a vendor action.
    static func consoleVendorNotice(_ request: Request) -> String? {
        let query = request.uri.queryParameters
        switch query["done"].map(String.init) {
        case "model-created": return "Model created."
        case "window-saved": return "Activation window saved. Serials already enabled keep the window they had."
        case "serials-imported":
            let count = query["count"].flatMap { Int(String($0)) } ?? 0
            return count == 1 ? "Imported 1 serial number." : "Imported \(count) serial numbers."
        case "content-uploaded":
            let size = query["size"].flatMap { Int64(String($0)) } ?? 0
            return "Content uploaded (\(ConsoleFormat.bytes(size)))."
        case "content-deleted": return "Content deleted. Devices can no longer download it."
        default: return nil
        }
    }

    /// The models page of the vendor at node `tenantId`.
    func vendorModelsPage(_ console: Console, _ session: ConsoleSession, tenantId: Int64, create: ConsoleVendorModelsPage.ModelForm = .init(),
                          status: HTTPResponse.Status = .ok) async throws -> Response {
        let vendor = try await provisioning.vendorCaller(session.caller, tenantId: tenantId)
        let models = try await provisioning.models(vendor).map {
            ConsoleVendorModelsPage.Row(name: $0.name, window: ConsoleFormat.window($0.activationWindow), created: ConsoleTime($0.createdAt),
                                        href: ConsolePaths.vendorModel(tenantId, $0.name))
        }
        let path = ConsolePaths.vendorModels(tenantId)
        let page = ConsoleVendorModelsPage(frame: ConsoleFrame(title: "Models – \(vendor.vendor.name)", session: session, path: path),
                                           csrf: session.csrf, vendor: vendor.vendor.name, models: models, create: create, base: path)
        return try console.render("vendor-models", page, status: status)
    }

    /// The page of model `name` of the vendor at node `tenantId`, with its serials from `offset`.
    func vendorModelPage(_ console: Console, _ session: ConsoleSession, tenantId: Int64, model name: String, offset: Int = 0,
                         window: ConsoleVendorModelPage.WindowForm? = nil, upload: ConsoleVendorModelPage.ImportForm = .init(),
                         content: ConsoleVendorModelPage.ContentForm = .init(), notice: String? = nil,
                         status: HTTPResponse.Status = .ok) async throws -> Response {
        let vendor = try await provisioning.vendorCaller(session.caller, tenantId: tenantId)
        let model = try await provisioning.model(vendor, name: name)
        let pageSize = 100
        let now = configuration.clock.now()
        let found = try await provisioning.serials(vendor, model: model.name, offset: offset, limit: pageSize + 1)
        let serials = found.prefix(pageSize).map {
            ConsoleVendorModelPage.SerialRow(sn: $0.sn, status: $0.status(at: now).rawValue, owner: $0.ownerKey ?? "", extra: $0.extra,
                                             windowEnds: ConsoleTime(ifSet: $0.windowEndsAt), activated: ConsoleTime(ifSet: $0.activatedAt))
        }
        let contents = try await provisioning.contents(vendor, model: model.name).map {
            ConsoleVendorModelPage.ContentRow(name: $0.name, version: $0.meta, type: $0.contentType ?? "", size: ConsoleFormat.bytes($0.size),
                                              sha256: $0.sha256 ?? "", isProtected: $0.isProtected, updated: ConsoleTime($0.updatedAt), uploaded: $0.blobId != nil)
        }
        let base = ConsolePaths.vendorModel(tenantId, model.name)
        let page = ConsoleVendorModelPage(
            frame: ConsoleFrame(title: "Model \(model.name) – \(vendor.vendor.name)", session: session, path: ConsolePaths.vendorModels(tenantId), notice: notice),
            csrf: session.csrf, vendor: vendor.vendor.name, model: model.name, windowText: ConsoleFormat.window(model.activationWindow),
            serials: Array(serials), next: found.count > pageSize ? base + "?offset=\(offset + pageSize)#serials-heading" : nil,
            previous: offset > 0 ? base + "?offset=\(max(0, offset - pageSize))#serials-heading" : nil, firstRow: offset + 1, contents: contents,
            window: window ?? .init(window: String(model.activationWindow)), upload: upload, content: content, base: base,
            modelsHref: ConsolePaths.vendorModels(tenantId), maxCSV: ConsoleFormat.bytes(Int64(Self.serialCSVLimit)),
            maxContent: ConsoleFormat.bytes(provisioning.maxContentBytes))
        return try console.render("vendor-model", page, status: status)
    }
}

extension ConsolePaths {
    static func vendorModels(_ tenantId: Int64) -> String { "/console/vendors/\(tenantId)/models" }
    static func vendorModel(_ tenantId: Int64, _ model: String) -> String { "/console/vendors/\(tenantId)/models/\(model)" }
}
