import NIOCore
import NIOPosix
import NIOSSL

/// Why a Redis command failed.
public enum RedisError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The server answered with an error (`ERR ...`, `WRONGTYPE ...`).
    case server(String)
    /// The connection closed before the answer came.
    case connectionClosed
    /// A ``RedisSession`` had no connection when asked (it is reconnecting, or closed): nothing was sent.
    case notConnected
    /// The server did not answer within the connection's answer timeout: the connection was closed.
    case timedOut
    /// The connection failed for a reason of its own (a TLS handshake that failed, a certificate that was not
    /// trusted, bytes that are not RESP): the reason.
    case connectionFailed(String)

    public var description: String {
        switch self {
        case .server(let text): "Redis: \(text)"
        case .connectionClosed: "the connection to Redis closed"
        case .notConnected: "not connected to Redis (reconnecting, or closed)"
        case .timedOut: "Redis did not answer in time (the connection was closed)"
        case .connectionFailed(let reason): "the connection to Redis failed: \(reason)"
        }
    }
}

/// One connection to a Redis 7 server speaking RESP3 (`HELLO 3`): commands are pipelined (each answer matched to its
/// command in order, any number in flight), and out-of-band pushes (pub/sub messages) go to ``pushes``, so one
/// connection both subscribes and runs commands.
///
/// With an answer timeout, a server that stops answering (stopped, overloaded, or the link to it silently gone) is
/// noticed: when commands wait and nothing has come from the server for longer than the timeout (since the oldest
/// was sent, or since the last answer of a long pipeline), the connection closes and every command waiting fails
/// with ``RedisError/timedOut`` (a command that timed out may still have run); a connection with nothing in flight
/// sends a `PING` after half the timeout without traffic, so a dead link is found even on a connection that only
/// receives pushes.
///
/// ```swift
/// let redis = try await RedisConnection.connect(host: "127.0.0.1", port: 6379)
/// try await redis.send(["SET", "node:1", "alive", "EX", "5"])
/// try await redis.send(["SUBSCRIBE", "node:1"])
/// for await message in redis.pushes { ... }
/// ```
public final class RedisConnection: Sendable {
    private let channel: any Channel
    /// Pushes from the server (`["message", channel, payload]` for pub/sub), in order; ends when the connection closes.
    public let pushes: AsyncStream<[RESPValue]>

    private init(channel: any Channel, pushes: AsyncStream<[RESPValue]>) {
        self.channel = channel
        self.pushes = pushes
    }

    /// Connects and switches the connection to RESP3 (with `password`, authenticating as `username`); with
    /// `answerTimeout`, a server that does not answer within it loses the connection (see the type's description).
    /// With `tls`, the connection is TLS (Redis's `tls-port`), and the server's certificate must be valid for `host` (a
    /// name, or an IP address in the certificate's addresses); the context's certificate, if any, is presented to a
    /// Redis that asks for one.
    public static func connect(host: String, port: Int, username: String = "default", password: String? = nil,
                               answerTimeout: TimeAmount? = nil, tls: NIOSSLContext? = nil,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> RedisConnection {
        let (stream, continuation) = AsyncStream.makeStream(of: [RESPValue].self, bufferingPolicy: .bufferingNewest(10_000))
        // With TLS, the handshake is awaited before the first command: a refused certificate fails the connection with
        // its reason, however fast the server closes it.
        let handshake = tls.map { _ in group.any().makePromise(of: Void.self) }
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // A name goes into SNI and is checked against the certificate; an address only the latter.
                        let name = host.isIPAddress ? nil : host
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: name))
                    }
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(RESPDecoder()), MessageToByteHandler(RESPCommandEncoder()),
                        RedisCommandHandler(pushes: continuation, answerTimeout: answerTimeout, handshake: handshake),
                    ])
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
            try await handshake?.futureResult.get()
        } catch {
            handshake?.fail(error)
            throw error
        }
        let connection = RedisConnection(channel: channel, pushes: stream)
        var hello = ["HELLO", "3"]
        if let password { hello += ["AUTH", username, password] }
        do {
            _ = try await connection.send(hello)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Sends a command and waits for its answer; a server error is thrown as ``RedisError/server(_:)``. Use
    /// ``subscribe(_:pattern:)`` for SUBSCRIBE, whose answers are pushes.
    @discardableResult
    public func send(_ command: [String]) async throws -> RESPValue {
        let answer = try await submit(command).get()
        if case .error(let text) = answer { throw RedisError.server(text) }
        return answer
    }

    /// Sends a command; the future has its answer, an error answer included (for callers without `async`).
    func submit(_ command: [String]) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        channel.writeAndFlush(RedisCommandHandler.Request(command: command, promise: promise), promise: Self.failing(promise))
        return promise.futureResult
    }

    /// Sends several commands at once (one write) and returns their answers in order; errors are answers here.
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        let promises = commands.map { _ in channel.eventLoop.makePromise(of: RESPValue.self) }
        for (command, promise) in zip(commands, promises) {
            channel.write(RedisCommandHandler.Request(command: command, promise: promise), promise: Self.failing(promise))
        }
        channel.flush()
        var answers: [RESPValue] = []
        for promise in promises { answers.append(try await promise.futureResult.get()) }
        return answers
    }

    /// Subscribes to pub/sub channels (`SUBSCRIBE`); the confirmations and then every message arrive in ``pushes``
    /// (`["subscribe", channel, count]`, `["message", channel, payload]`). With `pattern`, `PSUBSCRIBE`.
    public func subscribe(_ channels: [String], pattern: Bool = false) async throws {
        try await sendForPushes([pattern ? "PSUBSCRIBE" : "SUBSCRIBE"] + channels)
    }

    /// Unsubscribes (`UNSUBSCRIBE`; every channel when `channels` is empty); confirmed in ``pushes``.
    public func unsubscribe(_ channels: [String] = [], pattern: Bool = false) async throws {
        try await sendForPushes([pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE"] + channels)
    }

    /// Writes a command whose answers are pushes, not replies.
    private func sendForPushes(_ command: [String]) async throws {
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(RedisCommandHandler.Request(command: command, promise: nil, written: written), promise: written)
        try await written.futureResult.get()
    }

    /// A write promise that fails `answer` when the write fails (on a closed channel the write never reaches the handler
    /// that would have queued the answer).
    private static func failing(_ answer: EventLoopPromise<RESPValue>) -> EventLoopPromise<Void> {
        let written = answer.futureResult.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in answer.fail(RedisError.connectionClosed) }
        return written
    }

    /// Whether the connection is open.
    public var isActive: Bool { channel.isActive }

    /// Closes the connection; commands in flight fail with ``RedisError/connectionClosed``.
    public func close() async {
        try? await channel.close()
    }
}

extension String {
    /// Whether this is an IPv4 or IPv6 address rather than a name.
    var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
