import NIOCore
import NIOPosix
import NIOSSL

/// A Redis connection that comes back by itself: the session connects in the background, and whenever the
/// connection closes or cannot be made it tries again after 100 ms, doubling the wait up to 2 s (back to 100 ms once
/// connected). Subscriptions are remembered and made again on every new connection, before ``State/connected`` is
/// reported, and their messages all come out of one ``messages`` stream that outlives the connections.
///
/// While there is no connection, commands fail at once with ``RedisError/notConnected`` (they do not wait for the
/// next one); a command in flight when the connection goes fails with ``RedisError/connectionClosed`` (or
/// ``RedisError/timedOut`` when the answer timeout found the server silent, and closed the connection). Messages
/// published while there is no connection are lost: a user that keeps state in Redis should reload it on each
/// ``State/connected`` of ``states``.
///
/// ```swift
/// let redis = RedisSession(host: "127.0.0.1", port: 6379)
/// await redis.subscribe(["cluster"])
/// Task { for await state in redis.states where state == .connected { await reload() } }
/// for await message in redis.messages { handle(message.channel, message.payload) }
/// ```
///
/// Call ``close()`` when done: until then the session keeps itself alive and keeps reconnecting.
public final class RedisSession: Sendable {
    /// A change of connection reported on ``states``.
    public enum State: Sendable, Equatable {
        /// A connection is up and every remembered subscription is in effect on it: commands run.
        case connected
        /// The connection went (or the session was closed): commands fail until the next ``connected``.
        case disconnected
    }

    /// One pub/sub message.
    public struct Message: Sendable, Equatable {
        /// The channel it was published to.
        public var channel: String
        /// The message as published: any bytes.
        public var payload: [UInt8]
        /// The payload read as UTF-8 (invalid sequences replaced).
        public var text: String { String(decoding: payload, as: UTF8.self) }

        /// A message on `channel` with `payload`.
        public init(channel: String, payload: [UInt8]) {
            self.channel = channel
            self.payload = payload
        }
    }

    /// Every message on the subscribed channels, across reconnections, in order; ends after ``close()``.
    ///
    /// Bounded: it keeps at most `maxBufferedMessages` (see the initializer) that nobody has read yet, the oldest
    /// ones; messages arriving while it is full are dropped and counted in ``droppedMessages``. One reader.
    public let messages: AsyncStream<Message>
    /// ``State/connected`` after each connection (subscriptions made), ``State/disconnected`` when it goes; keeps the
    /// newest 64 changes nobody has read; ends after ``close()``. One reader.
    public let states: AsyncStream<State>

    let host: String
    let port: Int
    let username: String
    let password: String?
    let answerTimeout: TimeAmount?
    let publishBacklogLimit: Int?
    let tls: NIOSSLContext?
    let group: any EventLoopGroup
    let log: (@Sendable (String) -> Void)?
    let messageSink: AsyncStream<Message>.Continuation
    let stateSink: AsyncStream<State>.Continuation
    let shared = LockedState(Shared())

    /// What the session's tasks and callers share, under the lock.
    struct Shared {
        /// Every channel subscribed to and not unsubscribed.
        var channels: Set<String> = []
        /// The connection being set up or up: subscriptions go to it.
        var attached: RedisConnection?
        /// The connection up with its subscriptions made: commands go to it.
        var ready: RedisConnection?
        var closed = false
        var supervisor: Task<Void, Never>?
        var droppedMessages = 0
        /// The bytes of sheddable publications waiting for their answers (any connection).
        var publishBacklog = 0
    }

    /// Starts connecting to Redis at `host`:`port` in the background (with `password`, authenticating as `username`)
    /// and keeps reconnecting until ``close()``.
    /// - Parameters:
    ///   - maxBufferedMessages: how many unread messages ``messages`` keeps before dropping new ones.
    ///   - answerTimeout: how long a command may wait for its answer before the connection is taken for dead (closed,
    ///     then made again); a quiet connection is pinged so a dead one is found too (``RedisConnection``). Nil: no limit.
    ///   - publishBacklogLimit: how many bytes of sheddable ``publish(_:_:sheddable:onResult:)`` messages may wait for their
    ///     answers before more are refused. Nil: no limit.
    ///   - tls: connect with TLS (see ``RedisConnection/connect(host:port:username:password:answerTimeout:tls:group:)``).
    ///   - group: where the connections run.
    ///   - log: told of lost connections, failed attempts (the first of each outage) and reconnections.
    public init(host: String, port: Int, username: String = "default", password: String? = nil,
                maxBufferedMessages: Int = 100_000, answerTimeout: TimeAmount? = nil, publishBacklogLimit: Int? = nil,
                tls: NIOSSLContext? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                log: (@Sendable (String) -> Void)? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.answerTimeout = answerTimeout
        self.publishBacklogLimit = publishBacklogLimit
        self.tls = tls
        self.group = group
        self.log = log
        (messages, messageSink) = AsyncStream.makeStream(of: Message.self, bufferingPolicy: .bufferingOldest(maxBufferedMessages))
        (states, stateSink) = AsyncStream.makeStream(of: State.self, bufferingPolicy: .bufferingNewest(64))
        let supervisor = Task { await self.superviseConnections() }
        shared.withLock { $0.supervisor = supervisor }
    }

    /// Whether a connection is up with its subscriptions made (so commands would be sent now).
    public var isConnected: Bool {
        shared.withLock { $0.ready }?.isActive ?? false
    }

    /// How many messages were dropped because ``messages`` was full.
    public var droppedMessages: Int {
        shared.withLock { $0.droppedMessages }
    }

    /// Sends a command on the current connection and waits for its answer; a server error is thrown as
    /// ``RedisError/server(_:)``. Throws ``RedisError/notConnected`` at once when there is no connection, and
    /// ``RedisError/connectionClosed`` when it goes before the answer comes (``RedisError/timedOut`` when the answer
    /// timeout closed it). Use ``subscribe(_:)`` for SUBSCRIBE.
    @discardableResult
    public func send(_ command: [String]) async throws -> RESPValue {
        try await readyConnection().send(command)
    }

    /// Sends several commands at once on the current connection and returns their answers in order (errors are
    /// answers here); fails like ``send(_:)`` when there is no connection or it goes.
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        try await readyConnection().pipeline(commands)
    }

    /// Publishes `message` on `channel` and returns how many subscribers received it; fails like ``send(_:)``.
    @discardableResult
    public func publish(channel: String, message: String) async throws -> Int {
        try Self.receivers(await send(["PUBLISH", channel, message]))
    }

    /// Publishes `message` on `channel` without `async`, for event-loop code: `onResult` gets how many subscribers
    /// received it, or the error of ``send(_:)``; it is called on the connection's event loop, or at once on the
    /// calling thread when there is no connection.
    ///
    /// A `sheddable` message (traffic that can go another way when Redis lags) is refused instead while there is no
    /// connection or more than the session's `publishBacklogLimit` bytes of sheddable messages wait for their answers
    /// (one alone always goes): then this returns `false` at once, nothing is sent and `onResult` is not called, so the
    /// caller can undo what it prepared for the message. Otherwise it returns `true`.
    @discardableResult
    public func publish(_ channel: String, _ message: String, sheddable: Bool = false,
                        onResult: @escaping @Sendable (Result<Int, any Error>) -> Void) -> Bool {
        let bytes = sheddable && publishBacklogLimit != nil ? channel.utf8.count + message.utf8.count : 0
        let admitted = shared.withLock { shared -> Result<RedisConnection, RedisError>? in
            guard let connection = shared.ready, connection.isActive else { return .failure(.notConnected) }
            if bytes > 0, let limit = publishBacklogLimit {
                guard shared.publishBacklog == 0 || shared.publishBacklog + bytes <= limit else { return nil }
                shared.publishBacklog += bytes
            }
            return .success(connection)
        }
        switch admitted {
        case nil:
            return false
        case .failure(let error):
            if sheddable { return false }
            onResult(.failure(error))
        case .success(let connection):
            connection.submit(["PUBLISH", channel, message]).whenComplete { [self] answer in
                if bytes > 0 { shared.withLock { $0.publishBacklog -= bytes } }
                onResult(answer.flatMap { value in Result { try Self.receivers(value) } })
            }
        }
        return true
    }

    /// Subscribes to `channels` for good: they are remembered and subscribed again on every new connection, and
    /// their messages come out of ``messages``. Returns whether the subscription is in effect on the server now
    /// (false when there is no connection: it will be made on the next one).
    @discardableResult
    public func subscribe(_ channels: [String]) async -> Bool {
        let connection = shared.withLock { shared -> RedisConnection? in
            shared.channels.formUnion(channels)
            return shared.closed ? nil : shared.attached
        }
        guard let connection else { return false }
        guard !channels.isEmpty else { return true }
        return (try? await Self.subscribe(channels, on: connection)) != nil
    }

    /// Unsubscribes from `channels` and forgets them; their messages already in ``messages`` stay there.
    public func unsubscribe(_ channels: [String]) async {
        let connection = shared.withLock { shared -> RedisConnection? in
            shared.channels.subtract(channels)
            return shared.attached
        }
        guard let connection, !channels.isEmpty else { return }
        try? await connection.unsubscribe(channels)
    }

    /// Stops for good: closes the connection (commands in flight fail), stops reconnecting, reports
    /// ``State/disconnected`` if connected, and ends ``messages`` and ``states``. Later commands throw
    /// ``RedisError/notConnected``.
    public func close() async {
        let (connections, supervisor) = shared.withLock { shared in
            shared.closed = true
            if shared.ready != nil { stateSink.yield(.disconnected) }
            defer { shared.attached = nil; shared.ready = nil }
            return ([shared.attached, shared.ready].compactMap { $0 }, shared.supervisor)
        }
        supervisor?.cancel()
        for connection in connections { await connection.close() }
        await supervisor?.value
        stateSink.finish()
        messageSink.finish()
    }

    /// The connection commands go to, or ``RedisError/notConnected``.
    private func readyConnection() throws -> RedisConnection {
        guard let connection = shared.withLock({ $0.ready }), connection.isActive else { throw RedisError.notConnected }
        return connection
    }

    /// PUBLISH's answer, the number of receivers.
    private static func receivers(_ answer: RESPValue) throws -> Int {
        if case .error(let text) = answer { throw RedisError.server(text) }
        guard let count = answer.integer else { throw RedisError.server("PUBLISH answered \(answer)") }
        return Int(count)
    }

    /// SUBSCRIBE on `connection`, then a PING: Redis answers in order, so once the PING is answered the subscription
    /// is in effect.
    static func subscribe(_ channels: [String], on connection: RedisConnection) async throws {
        try await connection.subscribe(channels)
        _ = try await connection.send(["PING"])
    }
}
