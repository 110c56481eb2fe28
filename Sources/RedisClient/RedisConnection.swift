import NIOCore
import NIOPosix

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
    /// Too many bytes of sheddable commands (``RedisSession/publish(_:_:onResult:)``) already wait for their answers on
    /// the connection (its backlog limit): nothing was sent.
    case backlogged

    public var description: String {
        switch self {
        case .server(let text): "Redis: \(text)"
        case .connectionClosed: "the connection to Redis closed"
        case .notConnected: "not connected to Redis (reconnecting, or closed)"
        case .timedOut: "Redis did not answer in time (the connection was closed)"
        case .backlogged: "too much is waiting for Redis already (not sent)"
        }
    }
}

/// One connection to a Redis 7 server speaking RESP3 (`HELLO 3`): commands are pipelined (each answer matched to its
/// command in order, any number in flight), and out-of-band pushes (pub/sub messages) go to ``pushes``, so one
/// connection both subscribes and runs commands.
///
/// With a backlog limit, commands submitted as sheddable are refused at once (``RedisError/backlogged``) while the
/// sheddable commands written and not answered yet pass the limit in bytes, so traffic that can go elsewhere (a node's
/// stanzas to other nodes) cannot pile up in memory behind a slow server; other commands are never refused.
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
    /// `answerTimeout`, a server that does not answer within it loses the connection, and with `backlogLimit` (bytes)
    /// sheddable commands are refused past it (see the type's description).
    public static func connect(host: String, port: Int, username: String = "default", password: String? = nil,
                               answerTimeout: TimeAmount? = nil, backlogLimit: Int? = nil,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> RedisConnection {
        let (stream, continuation) = AsyncStream.makeStream(of: [RESPValue].self, bufferingPolicy: .bufferingNewest(10_000))
        let channel = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(RESPDecoder()), MessageToByteHandler(RESPCommandEncoder()),
                        RedisCommandHandler(pushes: continuation, answerTimeout: answerTimeout, backlogLimit: backlogLimit),
                    ])
                }
            }
            .connect(host: host, port: port).get()
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

    /// Sends a command; the future has its answer, an error answer included (for callers without `async`). A
    /// `sheddable` command fails with ``RedisError/backlogged`` instead when the connection's backlog is full.
    func submit(_ command: [String], sheddable: Bool = false) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let bytes = sheddable ? command.reduce(0) { $0 + $1.utf8.count } : 0
        channel.writeAndFlush(RedisCommandHandler.Request(command: command, promise: promise, sheddableBytes: bytes),
                              promise: Self.failing(promise))
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

/// Matches answers to commands in order (Redis answers in order) and passes pushes on, and watches the answer timeout;
/// on the channel's event loop only.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Request
    typealias OutboundOut = [String]

    struct Request {
        var command: [String]
        /// Nil for commands answered by pushes only (SUBSCRIBE and its kin in RESP3).
        var promise: EventLoopPromise<RESPValue>?
        var written: EventLoopPromise<Void>? = nil
        /// The size of a sheddable command (counted against the backlog limit); 0 for the others.
        var sheddableBytes = 0
    }

    /// The answers awaited, in the order of the commands, with when each command was written and its sheddable bytes.
    private var waiting = CircularBuffer<(answer: EventLoopPromise<RESPValue>, sent: NIODeadline, sheddableBytes: Int)>()
    private let pushes: AsyncStream<[RESPValue]>.Continuation
    private let answerTimeout: TimeAmount?
    private let backlogLimit: Int?
    /// The bytes of the sheddable commands in `waiting`.
    private var sheddableInFlight = 0
    /// When the server last sent anything.
    private var lastRead = NIODeadline.now()
    private var watchdog: RepeatedTask?

    init(pushes: AsyncStream<[RESPValue]>.Continuation, answerTimeout: TimeAmount? = nil, backlogLimit: Int? = nil) {
        self.pushes = pushes
        self.answerTimeout = answerTimeout
        self.backlogLimit = backlogLimit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startWatchdog(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startWatchdog(context: context)
        context.fireChannelActive()
    }

    /// From the moment the connection is up (a slow connect must not count against the first answer).
    private func startWatchdog(context: ChannelHandlerContext) {
        guard let answerTimeout, watchdog == nil else { return }
        // Checked twice per timeout: a server that stops answering is noticed between one and one and a half
        // timeouts after its last answer; an idle link that died, after one and a half to two (its ping goes first).
        let period = TimeAmount.nanoseconds(max(answerTimeout.nanoseconds / 2, 10_000_000))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        watchdog = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            let (handler, context) = loopBound.value
            handler.watch(context: context, timeout: answerTimeout)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watchdog?.cancel()
    }

    /// Closes the connection when commands wait and nothing came from the server for longer than the timeout (a long
    /// pipeline whose answers keep coming is not a dead server); pings a quiet connection with nothing in flight.
    private func watch(context: ChannelHandlerContext, timeout: TimeAmount) {
        guard context.channel.isActive else { return }
        let now = NIODeadline.now()
        if let oldest = waiting.first {
            guard now - max(oldest.sent, lastRead) > timeout else { return }
            failAll(RedisError.timedOut)
            context.close(promise: nil)
        } else if now - lastRead >= TimeAmount.nanoseconds(timeout.nanoseconds / 2) {
            // Its answer is awaited like any other (the connection is in RESP3: PING is answered, not pushed, even
            // while subscribed), and nobody reads it.
            let pong = context.eventLoop.makePromise(of: RESPValue.self)
            pong.futureResult.whenFailure { _ in }
            waiting.append((pong, now, 0))
            context.writeAndFlush(wrapOutboundOut(["PING"]), promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard context.channel.isActive else {
            request.promise?.fail(RedisError.connectionClosed)
            request.written?.fail(RedisError.connectionClosed)
            promise?.fail(RedisError.connectionClosed)
            return
        }
        if request.sheddableBytes > 0, let backlogLimit, sheddableInFlight > 0, sheddableInFlight + request.sheddableBytes > backlogLimit {
            // The answer first: the write promise's failure would report the closed connection to it otherwise.
            request.promise?.fail(RedisError.backlogged)
            promise?.fail(RedisError.backlogged)
            return
        }
        if let answer = request.promise {
            waiting.append((answer, .now(), request.sheddableBytes))
            sheddableInFlight += request.sheddableBytes
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { result in
            request.written?.completeWith(result)
            promise?.completeWith(result)
        }
        // A write that fails leaves the stream out of step with the answers: the connection goes, failing what waits.
        let channel = context.channel
        written.futureResult.whenFailure { _ in channel.close(promise: nil) }
        context.write(wrapOutboundOut(request.command), promise: written)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        lastRead = .now()
        if case .push(let elements) = value {
            pushes.yield(elements)
            return
        }
        guard let answered = waiting.popFirst() else { return }
        sheddableInFlight -= answered.sheddableBytes
        answered.answer.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watchdog?.cancel()
        failAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Bytes that are not RESP: the stream cannot be trusted any more.
        failAll()
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError = .connectionClosed) {
        let pending = waiting
        waiting.removeAll()
        sheddableInFlight = 0
        for (answer, _, _) in pending { answer.fail(error) }
        pushes.finish()
    }
}
