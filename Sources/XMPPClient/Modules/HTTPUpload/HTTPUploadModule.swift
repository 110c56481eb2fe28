import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import XMPPCore

/// HTTP file upload (XEP-0363): finds the account server's upload service, asks it for a slot, PUTs the file over
/// HTTPS and hands back the URL to share; ``share(_:with:)`` sends that URL in a chat message with an out-of-band
/// data payload (XEP-0066), which other clients show as an attachment. The HTTPS connection trusts what the XMPP
/// connection trusts (``XMPPClient/Configuration/trust``), checked against the URL's host.
///
/// ```swift
/// let uploads = client.add(HTTPUploadModule())
/// try await client.connect()
/// let transfer = uploads.upload(file: URL(fileURLWithPath: "holiday.jpg"))
/// Task { for await step in transfer.progress { print(step.completed, "of", step.total ?? 0) } }
/// let url = try await transfer.value          // https://upload.example.com/…/holiday.jpg
/// try await uploads.share(url, with: romeo)
/// ```
public final class HTTPUploadModule: XMPPClientModule {
    /// The HTTP file upload namespace.
    public static let namespace = "urn:xmpp:http:upload:0"
    /// The out-of-band data namespace (XEP-0066), whose `<x/>` carries a shared file's URL in a message.
    public static let outOfBandNamespace = "jabber:x:oob"

    private let client = ClientReference()
    private let cachedService = Locked<UploadService?>(nil)

    /// Creates the module.
    public init() {}

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    // MARK: - The service

    /// The account server's upload service: the first item of the domain's disco#items (or the domain itself) whose
    /// disco#info announces `urn:xmpp:http:upload:0`, with the `max-file-size` of its XEP-0128 form. Found once and
    /// kept for the client's lifetime unless `refresh`.
    /// - Throws: ``HTTPUploadError/noUploadService`` when there is none; ``XMPPClientError`` when a query fails.
    public func service(refresh: Bool = false) async throws -> UploadService {
        if !refresh, let known = cachedService.withLock({ $0 }) { return known }
        let client = try client.require()
        let domain = client.configuration.jid.domain
        let items = try await client.query(Element("query", namespace: DiscoModule.itemsNamespace), to: domain)
        var candidates = (items?.children("item", namespace: DiscoModule.itemsNamespace) ?? []).compactMap { item -> JID? in
            guard item.attribute("node") == nil else { return nil }
            return item.attribute("jid").flatMap(JID.init(validating:))
        }
        candidates.append(domain)
        for candidate in candidates {
            // An item that does not answer (a remote component that is down) is not the upload service.
            guard let answer = try? await client.query(Element("query", namespace: DiscoModule.infoNamespace), to: candidate) else { continue }
            let info = DiscoInfo(query: answer)
            guard info.features.contains(Self.namespace) else { continue }
            let service = UploadService(jid: candidate, maxFileSize: Self.maxFileSize(in: info))
            cachedService.withLock { $0 = service }
            return service
        }
        throw HTTPUploadError.noUploadService
    }

    /// The `max-file-size` of the disco#info form whose `FORM_TYPE` is the upload namespace.
    static func maxFileSize(in info: DiscoInfo) -> Int64? {
        for element in info.extensions {
            guard let form = DataForm(element: element), form.formType == namespace else { continue }
            if let value = form.value(of: "max-file-size").flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) { return value }
        }
        return nil
    }

    // MARK: - Slots

    /// Asks the upload service for a slot for a file (XEP-0363 §4).
    /// - Parameters:
    ///   - filename: The file's name, which the download URL usually ends with.
    ///   - size: Its size in bytes.
    ///   - contentType: Its MIME type; the PUT must then carry the same.
    /// - Throws: ``HTTPUploadError``: `.fileTooLarge` (with the service's limit), `.quotaReached`, `.notAllowed`,
    ///   `.refused`, `.noUploadService`; ``XMPPClientError`` when the session fails.
    public func requestSlot(filename: String, size: Int64, contentType: String? = nil) async throws -> UploadSlot {
        let service = try await service()
        var request = Element("request", namespace: Self.namespace, attributes: ["filename": filename, "size": String(size)])
        request.setAttribute("content-type", to: contentType)
        let answer: Element?
        do {
            answer = try await client.require().query(request, to: service.jid)
        } catch XMPPClientError.stanzaError(let error) {
            throw Self.slotError(error, size: size, service: service)
        }
        guard let answer else { throw HTTPUploadError.invalidSlot("an empty answer") }
        guard let slot = UploadSlot(element: answer) else { throw HTTPUploadError.invalidSlot("no put and get URLs") }
        guard ["https", "http"].contains(slot.putURL.scheme?.lowercased() ?? ""), ["https", "http"].contains(slot.getURL.scheme?.lowercased() ?? "")
        else { throw HTTPUploadError.invalidSlot("the URLs are not http(s): \(slot.putURL)") }
        return slot
    }

    /// The typed error for a refused slot request (XEP-0363 §5).
    static func slotError(_ error: StanzaError, size: Int64, service: UploadService) -> HTTPUploadError {
        if let tooLarge = error.applicationCondition, tooLarge.name == "file-too-large" {
            let max = tooLarge.child("max-file-size")?.text.trimmingCharacters(in: .whitespaces)
            return .fileTooLarge(size: size, maxFileSize: max.flatMap { Int64($0) } ?? service.maxFileSize)
        }
        switch error.condition {
        case .notAcceptable where service.maxFileSize.map { size > $0 } ?? false:
            return .fileTooLarge(size: size, maxFileSize: service.maxFileSize)
        case .resourceConstraint:
            return .quotaReached(error.text)
        case .forbidden, .notAllowed:
            return .notAllowed(error.text)
        default:
            return .refused(error)
        }
    }

    // MARK: - Uploading

    /// Uploads a file: a slot for its name, size and type, then the PUT, reading the file a chunk at a time.
    /// The transfer's ``FileTransfer/value`` is the URL to share.
    /// - Parameters:
    ///   - file: A local file URL.
    ///   - filename: The name to upload it under; the file's own by default.
    ///   - contentType: Its MIME type; by default guessed from the name's extension (``mimeType(forFilename:)``).
    public func upload(file: URL, filename: String? = nil, contentType: String? = nil) -> FileTransfer<URL> {
        let name = filename ?? file.lastPathComponent
        return FileTransfer { progress in
            let path = file.path
            let size = try Self.regularFileSize(path)
            return try await self.perform(.file(path: path, size: size), filename: name,
                                          contentType: contentType ?? Self.mimeType(forFilename: name), progress: progress)
        }
    }

    /// Uploads bytes held in memory under `filename`; see ``upload(file:filename:contentType:)``.
    public func upload(_ data: Data, filename: String, contentType: String? = nil) -> FileTransfer<URL> {
        FileTransfer { progress in
            try await self.perform(.data(data), filename: filename, contentType: contentType ?? Self.mimeType(forFilename: filename),
                                   progress: progress)
        }
    }

    /// Sends `body` into `slot` with HTTP PUT: the slot's allowed headers, Content-Length and Content-Type. Expects
    /// 201 Created (or 200).
    /// - Throws: ``HTTPUploadError/httpStatus(_:_:)`` for another answer, `.transferFailed`, `.cannotReadFile`.
    public func put(file: URL, into slot: UploadSlot, contentType: String) -> FileTransfer<Void> {
        FileTransfer { progress in
            let size = try Self.regularFileSize(file.path)
            try await self.put(.file(path: file.path, size: size), into: slot, contentType: contentType, progress: progress)
        }
    }

    private func perform(_ body: HTTPTransfer.Body, filename: String, contentType: String,
                         progress: @escaping @Sendable (TransferProgress) -> Void) async throws -> URL {
        let service = try await service()
        if let max = service.maxFileSize, body.size > max { throw HTTPUploadError.fileTooLarge(size: body.size, maxFileSize: max) }
        let slot = try await requestSlot(filename: filename, size: body.size, contentType: contentType)
        try Task.checkCancellation()
        try await put(body, into: slot, contentType: contentType, progress: progress)
        return slot.getURL
    }

    private func put(_ body: HTTPTransfer.Body, into slot: UploadSlot, contentType: String,
                     progress: @escaping @Sendable (TransferProgress) -> Void) async throws {
        let transfer = try transfer(slot.putURL)
        var headers = slot.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        headers.append(("Content-Type", contentType))
        let total = body.size
        progress(TransferProgress(completed: 0, total: total))
        let answer = Locked(ByteBuffer())
        let head = try await transfer.perform(method: .PUT, headers: headers, body: body,
                                              sent: { progress(TransferProgress(completed: $0, total: total)) }) { _, chunk in
            answer.withLock { kept in
                if kept.readableBytes < HTTPTransfer.keptErrorBody { kept.writeImmutableBuffer(chunk) }
            }
        }
        guard head.status == .created || head.status == .ok else {
            throw HTTPUploadError.httpStatus(Int(head.status.code), answer.withLock { Self.summary(of: $0) })
        }
    }

    // MARK: - Downloading

    /// Downloads `url` (a shared file) into the local file `destination`, replacing it; the transfer's value is the
    /// number of bytes written. Nothing is left at `destination` when the download fails or is cancelled.
    /// - Throws: ``HTTPUploadError/httpStatus(_:_:)`` for an answer other than 200, `.transferFailed`, `.cannotReadFile`
    ///   when the file cannot be written.
    public func download(_ url: URL, to destination: URL) -> FileTransfer<Int64> {
        FileTransfer { progress in
            let transfer = try self.transfer(url)
            let path = destination.path
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                throw HTTPUploadError.cannotReadFile("cannot write \(path)")
            }
            let state = Locked<(received: Int64, error: ByteBuffer)>((0, ByteBuffer()))
            do {
                let head = try await transfer.perform(method: .GET, headers: [], body: nil) { head, chunk in
                    guard head.status == .ok else {
                        state.withLock { if $0.error.readableBytes < HTTPTransfer.keptErrorBody { $0.error.writeImmutableBuffer(chunk) } }
                        return
                    }
                    let data = Data(chunk.readableBytesView)
                    try await NIOThreadPool.singleton.runIfActive { try handle.write(contentsOf: data) }
                    let received = state.withLock { $0.received += Int64(data.count); return $0.received }
                    progress(TransferProgress(completed: received, total: head.headers.first(name: "content-length").flatMap { Int64($0) }))
                }
                try handle.close()
                guard head.status == .ok else {
                    throw HTTPUploadError.httpStatus(Int(head.status.code), state.withLock { Self.summary(of: $0.error) })
                }
                return state.withLock { $0.received }
            } catch {
                try? handle.close()
                try? FileManager.default.removeItem(atPath: path)
                throw error
            }
        }
    }

    // MARK: - Sharing

    /// Sends `url` to `recipient` in a chat message: the URL as the body, and again in an out-of-band data payload
    /// (XEP-0066 `<x xmlns='jabber:x:oob'><url>…</url></x>`) so clients show it as a file. Goes through the
    /// ``ChatModule`` when one is attached (the outbox, delivery statuses), else straight to the server.
    /// - Returns: The message's id.
    @discardableResult
    public func share(_ url: URL, with recipient: JID) async throws -> String {
        let client = try client.require()
        var payload = Element("x", namespace: Self.outOfBandNamespace)
        payload.append(Element("url", namespace: Self.outOfBandNamespace, text: url.absoluteString))
        if let chat = client.module(ChatModule.self) {
            return try await chat.send(url.absoluteString, to: recipient, payloads: [payload])
        }
        let id = StanzaID.make()
        var message = Message(type: .chat, to: recipient, id: id, body: url.absoluteString)
        message.element.append(payload)
        try await client.send(message)
        return id
    }

    // MARK: - Helpers

    private func transfer(_ url: URL) throws -> HTTPTransfer {
        let client = try client.require()
        let configuration = client.configuration
        return HTTPTransfer(url: url, trust: configuration.trust, group: client.group, connectTimeout: configuration.connectTimeout,
                            idleTimeout: configuration.requestTimeout)
    }

    /// The size of the regular file at `path`.
    /// - Throws: ``HTTPUploadError/cannotReadFile(_:)`` when there is none.
    private static func regularFileSize(_ path: String) throws -> Int64 {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw HTTPUploadError.cannotReadFile("\(path): \(error.localizedDescription)")
        }
        guard (attributes[.type] as? FileAttributeType) == .typeRegular, let size = (attributes[.size] as? NSNumber)?.int64Value else {
            throw HTTPUploadError.cannotReadFile("\(path) is not a regular file")
        }
        return size
    }

    /// The first line of an error body, for messages.
    private static func summary(of buffer: ByteBuffer) -> String {
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        return String(text.split(whereSeparator: \.isNewline).first ?? "").trimmingCharacters(in: .whitespaces)
    }

    /// A MIME type for a file name's extension: common images, audio, video and documents; `application/octet-stream`
    /// for anything else.
    public static func mimeType(forFilename filename: String) -> String {
        let types = [
            "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
            "heic": "image/heic", "svg": "image/svg+xml", "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg",
            "opus": "audio/ogg", "wav": "audio/wav", "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm",
            "pdf": "application/pdf", "zip": "application/zip", "txt": "text/plain", "json": "application/json",
        ]
        let ext = (filename as NSString).pathExtension.lowercased()
        return types[ext] ?? "application/octet-stream"
    }
}
