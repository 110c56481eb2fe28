import NIOCore
import NIOSSL
import NIOTLS

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
    }

    /// The answers awaited, in the order of the commands, with when each command was written.
    private var waiting = CircularBuffer<(answer: EventLoopPromise<RESPValue>, sent: NIODeadline)>()
    private let pushes: AsyncStream<[RESPValue]>.Continuation
    private let answerTimeout: TimeAmount?
    /// Completed when the TLS handshake is done, failed if the connection fails first (TLS only).
    private let handshake: EventLoopPromise<Void>?
    /// Set once the connection failed or timed out: what is written afterwards fails at once (a TLS connection stays
    /// active while it waits for the server's close_notify).
    private var failed = false
    /// When the server last sent anything.
    private var lastRead = NIODeadline.now()
    private var watchdog: RepeatedTask?

    init(pushes: AsyncStream<[RESPValue]>.Continuation, answerTimeout: TimeAmount? = nil, handshake: EventLoopPromise<Void>? = nil) {
        self.pushes = pushes
        self.answerTimeout = answerTimeout
        self.handshake = handshake
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { handshake?.succeed() }
        context.fireUserInboundEventTriggered(event)
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
        guard context.channel.isActive, !failed else { return }
        let now = NIODeadline.now()
        if let oldest = waiting.first {
            guard now - max(oldest.sent, lastRead) > timeout else { return }
            // A TLS handshake that stalls times out here too (its ping waits behind it).
            handshake?.fail(RedisError.timedOut)
            failAll(RedisError.timedOut)
            context.close(promise: nil)
        } else if now - lastRead >= TimeAmount.nanoseconds(timeout.nanoseconds / 2) {
            // Its answer is awaited like any other (the connection is in RESP3: PING is answered, not pushed, even
            // while subscribed), and nobody reads it.
            let pong = context.eventLoop.makePromise(of: RESPValue.self)
            pong.futureResult.whenFailure { _ in }
            waiting.append((pong, now))
            context.writeAndFlush(wrapOutboundOut(["PING"]), promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard context.channel.isActive, !failed else {
            request.promise?.fail(RedisError.connectionClosed)
            request.written?.fail(RedisError.connectionClosed)
            promise?.fail(RedisError.connectionClosed)
            return
        }
        if let answer = request.promise { waiting.append((answer, .now())) }
        let written = context.eventLoop.makePromise(of: Void.self)
        // A write that fails leaves the stream out of step with the answers: the connection goes, failing what waits
        // with the reason (a TLS handshake that failed fails the writes queued behind it). First, so the answers
        // learn the reason before the caller's write promise reports a closed connection.
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        written.futureResult.whenFailure { error in
            let (handler, context) = loopBound.value
            handler.failAll(Self.failure(for: error))
            context.close(promise: nil)
        }
        written.futureResult.whenComplete { result in
            request.written?.completeWith(result)
            promise?.completeWith(result)
        }
        context.write(wrapOutboundOut(request.command), promise: written)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        lastRead = .now()
        if case .push(let elements) = value {
            pushes.yield(elements)
            return
        }
        waiting.popFirst()?.answer.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watchdog?.cancel()
        handshake?.fail(RedisError.connectionClosed)
        failAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Bytes that are not RESP, a TLS failure, a reset: the stream cannot be trusted any more.
        handshake?.fail(Self.failure(for: error))
        failAll(Self.failure(for: error))
        context.close(promise: nil)
    }

    /// What the commands waiting on a connection that failed with `error` fail with: a connection that merely went
    /// (reset, closed) is reported as closed, as when it ends cleanly; anything else with its reason.
    private static func failure(for error: any Error) -> RedisError {
        switch error {
        case let error as RedisError: error
        case is IOError, NIOSSLError.uncleanShutdown, ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed, ChannelError.eof:
            .connectionClosed
        default: .connectionFailed("\(error)")
        }
    }

    private func failAll(_ error: RedisError = .connectionClosed) {
        let pending = waiting
        waiting.removeAll()
        failed = true
        for (answer, _) in pending { answer.fail(error) }
        pushes.finish()
    }
}
