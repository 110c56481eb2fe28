import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP request under `/upload/TOKEN/NAME` on the web listener: the PUT that fills a slot (exactly the announced
/// length and type, written to disk as it arrives, reading paused while the disk is behind), or a GET/HEAD of a
/// stored file (with a single byte range). Confined to the connection's event loop; file work runs on the thread pool.
final class UploadExchange {
    let store: UploadStore
    let head: HTTPRequestHead
    let gate: ReadGate
    let token: String
    let name: String
    private var upload: PendingUpload?
    var finished = false

    /// What a PUT in progress has: its slot, its file, and the chunks waiting for the disk.
    private struct PendingUpload {
        var slot: UploadStore.Slot
        var folder: String
        var file: UploadFile?
        var queue: [ByteBuffer] = []
        var writing = false
        var received = 0
        var ended = false
    }

    /// Chunks waiting for the disk before reading from the client pauses.
    static let maxQueuedChunks = 8

    init?(head: HTTPRequestHead, store: UploadStore, gate: ReadGate) {
        let path = WebSocketEndpoint.requestedPath(head.uri)
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[1] == "upload", let name = String(parts[3]).removingPercentEncoding, !name.isEmpty else { return nil }
        self.head = head
        self.store = store
        self.gate = gate
        self.token = String(parts[2])
        self.name = name
    }

    // MARK: - Request parts

    func begin(context: ChannelHandlerContext) {
        switch head.method {
        case .PUT: beginUpload(context: context)
        case .GET, .HEAD: serve(context: context)
        case .OPTIONS: respond(Self.text(.noContent, ""), context: context)
        default:
            var response = Self.text(.methodNotAllowed, "upload URLs take PUT, GET and HEAD")
            response.headers.add(name: "Allow", value: "PUT, GET, HEAD, OPTIONS")
            respond(response, context: context)
        }
    }

    func body(_ chunk: ByteBuffer, context: ChannelHandlerContext) {
        guard !finished, var upload else { return }
        upload.received += chunk.readableBytes
        guard upload.received <= upload.slot.size else {
            self.upload = upload
            return abort(.badRequest, "more bytes than the slot's size (\(upload.slot.size))", context: context)
        }
        upload.queue.append(chunk)
        self.upload = upload
        if upload.queue.count >= Self.maxQueuedChunks { gate.pause(.backlog, context: context) }
        pump(context: context)
    }

    func end(context: ChannelHandlerContext) {
        guard !finished, upload != nil else { return }
        upload?.ended = true
        pump(context: context)
    }

    /// The connection closed: an unfinished upload is thrown away and its slot released.
    func connectionClosed() {
        guard let upload, !finished else { return }
        finished = true
        discard(upload)
    }

    // MARK: - PUT

    private func beginUpload(context: ChannelHandlerContext) {
        guard let location = store.attachedLocation else { return respond(Self.text(.serviceUnavailable, "uploads are off"), context: context) }
        guard let lengthText = head.headers.first(name: "content-length") else {
            return respond(Self.text(.lengthRequired, "an upload needs Content-Length"), context: context, close: true)
        }
        guard UploadToken.isWellFormed(token), let slot = store.claim(token: token, name: name) else {
            return respond(Self.text(.forbidden, "no such upload slot, or it was used or has expired"), context: context, close: true)
        }
        guard Int(lengthText) == slot.size else {
            store.finish(token: token, stored: false)
            return respond(Self.text(.badRequest, "Content-Length must be the slot's size, \(slot.size)"), context: context, close: true)
        }
        if let expected = slot.contentType, Self.mediaType(head.headers.first(name: "content-type")) != Self.mediaType(expected) {
            store.finish(token: token, stored: false)
            return respond(Self.text(.badRequest, "Content-Type must be the slot's, \(expected)"), context: context, close: true)
        }
        let folder = "\(location.directory)/\(token)"
        upload = PendingUpload(slot: slot, folder: folder)
        if let limiter = try? context.pipeline.syncOperations.handler(type: ReadRateLimiter.self) {
            limiter.setRate(bytesPerSecond: store.limits.bytesPerSecond)
        }
        gate.pause(.backlog, context: context)
        if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        }
        let opened = NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { () throws -> UploadFile in
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            return try UploadFile.create("\(folder)/.partial")
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        opened.whenComplete { result in
            let (exchange, context) = bound.value
            switch result {
            case .success(let file):
                guard !exchange.finished else {
                    // Discarded while the file was being created (the client went): remove what was just made.
                    NIOThreadPool.singleton.submit { _ in
                        file.close()
                        try? FileManager.default.removeItem(atPath: folder)
                    }
                    return
                }
                exchange.upload?.file = file
                exchange.gate.resume(.backlog, context: context)
                exchange.pump(context: context)
            case .failure(let error):
                exchange.abort(.internalServerError, "the file could not be created: \(error)", context: context)
            }
        }
    }

    /// Writes the next chunk, or finishes once everything has been written.
    private func pump(context: ChannelHandlerContext) {
        guard !finished, var upload, let file = upload.file, !upload.writing else { return }
        if upload.queue.isEmpty {
            if upload.ended { complete(upload, file: file, context: context) }
            return
        }
        let chunk = upload.queue.removeFirst()
        upload.writing = true
        self.upload = upload
        let written = NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { try file.write(chunk) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        written.whenComplete { result in
            let (exchange, context) = bound.value
            exchange.upload?.writing = false
            if case .failure(let error) = result {
                return exchange.abort(.internalServerError, "the file could not be written: \(error)", context: context)
            }
            if (exchange.upload?.queue.count ?? 0) < UploadExchange.maxQueuedChunks / 2 { exchange.gate.resume(.backlog, context: context) }
            exchange.pump(context: context)
        }
    }

    private func complete(_ upload: PendingUpload, file: UploadFile, context: ChannelHandlerContext) {
        guard upload.received == upload.slot.size else {
            return abort(.badRequest, "the body ended after \(upload.received) of \(upload.slot.size) bytes", context: context)
        }
        finished = true
        let (folder, name, slot) = (upload.folder, name, upload.slot)
        let stored = NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) {
            try file.synchronize()
            file.close()
            try FileManager.default.moveItem(atPath: "\(folder)/.partial", toPath: "\(folder)/\(name)")
            try UploadMetadata(owner: slot.owner, filename: name, size: slot.size,
                               contentType: slot.contentType ?? "application/octet-stream", created: Date()).write(to: folder)
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        stored.whenComplete { result in
            let (exchange, context) = bound.value
            switch result {
            case .success:
                exchange.store.finish(token: exchange.token, stored: true)
                exchange.respond(UploadExchange.text(.created, "stored"), context: context)
            case .failure(let error):
                exchange.discard(upload)
                exchange.respond(UploadExchange.text(.internalServerError, "the file could not be stored: \(error)"), context: context, close: true)
            }
        }
    }

    private func abort(_ status: HTTPResponseStatus, _ reason: String, context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        if let upload { discard(upload) }
        respond(Self.text(status, reason), context: context, close: true)
    }

    /// Removes what an unfinished upload wrote and gives its slot's bytes back.
    private func discard(_ upload: PendingUpload) {
        store.finish(token: token, stored: false)
        let (file, folder) = (upload.file, upload.folder)
        NIOThreadPool.singleton.submit { _ in
            file?.close()
            try? FileManager.default.removeItem(atPath: folder)
        }
    }
}
