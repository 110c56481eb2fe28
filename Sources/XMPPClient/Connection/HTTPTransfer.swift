import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import XMPPCore
import XMPPTransport

/// One HTTP/1.1 request on its own connection, for file transfers (XEP-0363 uploads and their downloads): the
/// body goes out in chunks as fast as the connection takes them (the writer waits while the socket is full, so a
/// large file never sits in memory), the response body comes back in chunks the same way. `https://` uses the
/// client's TLS trust settings, verified against the URL's host. Cancelling the calling task closes the connection.
struct HTTPTransfer: Sendable {
    /// Where the body of a request comes from.
    enum Body: Sendable {
        case data(Data)
        /// A file of `size` bytes, read a chunk at a time.
        case file(path: String, size: Int64)

        var size: Int64 {
            switch self {
            case .data(let data): Int64(data.count)
            case .file(_, let size): size
            }
        }
    }

    /// The response's status line and headers.
    typealias Head = HTTPResponseHead

    /// How much is read from a file, or written to the connection, at a time.
    static let chunkSize = 64 * 1024
    /// How much of a response body is kept when the caller only wants it for an error message.
    static let keptErrorBody = 4096

    let url: URL
    let trust: XMPPClient.Configuration.CertificateTrust
    let group: any EventLoopGroup
    let connectTimeout: Duration
    /// How long the connection may go without a byte moving either way before the transfer fails.
    let idleTimeout: Duration

    /// The URL's host, port, whether it is `https`, and the request target (path and query, percent-encoded).
    private func endpoint() throws -> (host: String, port: Int, secure: Bool, target: String) {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false), let scheme = components.scheme?.lowercased(),
              ["http", "https"].contains(scheme), let host = components.host, !host.isEmpty else {
            throw HTTPUploadError.transferFailed(FailureCause(.localConfiguration, "not an http(s) URL: \(url)"))
        }
        let secure = scheme == "https"
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let target = components.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
        // URLComponents keeps the brackets of an IPv6 literal; sockets and certificates want the bare address.
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return (bare, components.port ?? (secure ? 443 : 80), secure, target)
    }

    /// Sends the request and hands the response body to `receive` chunk by chunk; returns the response head.
    /// - Parameters:
    ///   - method: `PUT` or `GET`.
    ///   - headers: Extra request headers (`Host`, `Content-Length` and `Connection` are added).
    ///   - body: The request body, if any.
    ///   - sent: Called with the bytes of the body written so far, after each chunk.
    ///   - receive: Called with each chunk of the response body, together with the response head.
    func perform(method: HTTPMethod, headers extra: [(String, String)], body: Body?,
                 sent: @escaping @Sendable (Int64) -> Void = { _ in },
                 receive: @escaping @Sendable (Head, ByteBuffer) async throws -> Void) async throws -> Head {
        let (host, port, secure, target) = try endpoint()
        let tls = secure ? try ClientTLS(trust: trust, domain: host) : nil
        let wrapped = Locked<NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>?>(nil)
        let stalled = StallDetector()
        let idle = TimeAmount.nanoseconds(idleTimeout.nanoseconds)
        let bootstrap = ConnectionBootstrap.make(group: group, connectTimeout: .nanoseconds(connectTimeout.nanoseconds)) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers([SocketCloser(), IdleStateHandler(allTimeout: idle), stalled])
                if let tls { try channel.pipeline.syncOperations.addHandler(try tls.makeHandler()) }
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                let asyncChannel = try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                wrapped.withLock { $0 = asyncChannel }
            }
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw HTTPUploadError.transferFailed(FailureCause.connecting(to: host, port: port, error: error))
        }
        guard let connection = wrapped.withLock({ $0 }) else {
            channel.close(promise: nil)
            throw HTTPUploadError.transferFailed(FailureCause(.other, "the connection could not be set up"))
        }
        var headers = HTTPHeaders()
        let hostname = host.contains(":") ? "[\(host)]" : host
        headers.add(name: "Host", value: port == (secure ? 443 : 80) ? hostname : "\(hostname):\(port)")
        for (name, value) in extra { headers.add(name: name, value: value) }
        if let body { headers.replaceOrAdd(name: "Content-Length", value: String(body.size)) }
        headers.add(name: "Connection", value: "close")
        let request = HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: headers)
        return try await withTaskCancellationHandler {
            do {
                return try await connection.executeThenClose { inbound, outbound in
                    // A server may answer (and close) before the whole body is in, e.g. to refuse it: its answer
                    // then says more than the failed write.
                    var writeFailure: (any Error)?
                    do {
                        try await outbound.write(.head(request))
                        if let body { try await Self.write(body, to: outbound, sent: sent) }
                        try await outbound.write(.end(nil))
                    } catch let local as HTTPUploadError {
                        throw local
                    } catch {
                        if Task.isCancelled { throw CancellationError() }
                        writeFailure = error
                    }
                    var head: Head?
                    var readFailure: (any Error)?
                    do {
                        for try await part in inbound {
                            switch part {
                            case .head(let received) where received.status == .continue:
                                continue
                            case .head(let received):
                                head = received
                            case .body(let chunk):
                                if let head { try await receive(head, chunk) }
                            case .end:
                                if let head { return head }
                            }
                        }
                    } catch where head == nil && writeFailure != nil {
                        readFailure = error
                    }
                    if Task.isCancelled { throw CancellationError() }
                    // A failed handshake fails the write with a closed channel, and the read with the TLS error.
                    let cause = [writeFailure, readFailure].compactMap { $0 }.first(where: Self.isTLSError)
                        ?? writeFailure ?? HTTPTransferClosed()
                    throw Self.failure(cause, host: host, stalled: stalled.fired ? idleTimeout : nil)
                }
            } catch let error as HTTPUploadError {
                throw error
            } catch {
                if Task.isCancelled || error is CancellationError { throw CancellationError() }
                throw Self.failure(error, host: host, stalled: stalled.fired ? idleTimeout : nil)
            }
        } onCancel: {
            SocketCloser.close(channel)
        }
    }

    /// Writes `body` a chunk at a time; each write waits while the connection cannot take more.
    private static func write(_ body: Body, to outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>,
                              sent: @Sendable (Int64) -> Void) async throws {
        var written: Int64 = 0
        switch body {
        case .data(let data):
            var offset = 0
            while offset < data.count {
                try Task.checkCancellation()
                let end = min(offset + chunkSize, data.count)
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: data[offset..<end]))))
                written += Int64(end - offset)
                offset = end
                sent(written)
            }
        case .file(let path, let size):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw HTTPUploadError.cannotReadFile(path)
            }
            defer { try? handle.close() }
            while written < size {
                try Task.checkCancellation()
                let wanted = Int(min(Int64(chunkSize), size - written))
                // Disk reads run on NIO's blocking pool, not on the caller's executor.
                let chunk = try await NIOThreadPool.singleton.runIfActive { try handle.read(upToCount: wanted) ?? Data() }
                guard !chunk.isEmpty else {
                    throw HTTPUploadError.cannotReadFile("\(path) ended after \(written) of \(size) bytes")
                }
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk))))
                written += Int64(chunk.count)
                sent(written)
            }
        }
    }

    private static func isTLSError(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }

    /// A transfer failure from a NIO or TLS error.
    private static func failure(_ error: any Error, host: String, stalled: Duration? = nil) -> HTTPUploadError {
        if let stalled {
            return .transferFailed(FailureCause(.timedOut, "nothing moved for \(stalled.components.seconds) seconds"))
        }
        if isTLSError(error) {
            return .transferFailed(FailureCause.tls(error, domain: host))
        }
        if error is HTTPTransferClosed {
            return .transferFailed(FailureCause(.other, "the server closed the connection before answering"))
        }
        return .transferFailed(FailureCause(.other, "the transfer failed", underlying: "\(error)"))
    }
}

/// The connection ended without a complete response.
private struct HTTPTransferClosed: Error {}

/// Closes a connection on which nothing moved for the idle timeout (``IdleStateHandler``'s event), and remembers it.
private final class StallDetector: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    private let state = Locked(false)
    /// Whether the connection was closed for standing still.
    var fired: Bool { state.withLock { $0 } }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            state.withLock { $0 = true }
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Sits at the socket end of the pipeline so a cancelled transfer can close the socket at once: a close from the
/// channel would first go through TLS, which sends close_notify and waits (up to its shutdown timeout) for the server's,
/// stuck behind the body the server has not read yet.
private final class SocketCloser: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = NIOAny

    /// Closes `channel`'s socket without a TLS shutdown.
    static func close(_ channel: any Channel) {
        channel.eventLoop.execute {
            if let context = try? channel.pipeline.syncOperations.context(handlerType: SocketCloser.self) {
                context.close(promise: nil)
            } else {
                channel.close(promise: nil)
            }
        }
    }
}
