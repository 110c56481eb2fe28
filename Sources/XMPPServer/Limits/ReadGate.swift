import NIOCore

/// Why reading from a client is paused. Reading resumes only when no reason is left.
struct ReadPause: OptionSet, Sendable {
    let rawValue: UInt8
    /// The client sent faster than its read rate.
    static let rate = ReadPause(rawValue: 1 << 0)
    /// Stanzas wait for an earlier one's storage work (the backlog is full).
    static let backlog = ReadPause(rawValue: 1 << 1)
    /// The client does not read what is sent to it: its outbound buffer is above the high-water mark.
    static let unwritable = ReadPause(rawValue: 1 << 2)
}

/// The one switch for reading from a connection, shared by the handlers that may pause it, so that one resuming
/// never undoes another's pause (the rate limiter resuming while the client still does not read, say). Touched
/// only on the channel's event loop.
final class ReadGate {
    private var reasons: ReadPause = []

    /// Pauses reading for `reason`.
    func pause(_ reason: ReadPause, context: ChannelHandlerContext) {
        let wasOpen = reasons.isEmpty
        reasons.insert(reason)
        if wasOpen { context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in } }
    }

    /// Lifts `reason`; reading resumes if nothing else holds it.
    func resume(_ reason: ReadPause, context: ChannelHandlerContext) {
        guard reasons.contains(reason) else { return }
        reasons.remove(reason)
        guard reasons.isEmpty else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        context.read()
    }

    /// Whether `reason` currently holds reading.
    func isPaused(by reason: ReadPause) -> Bool { reasons.contains(reason) }
}

/// Limits how fast one connection may send: a token bucket of `bytesPerSecond` with a burst allowance.
/// When the bucket runs dry, reading from the socket pauses until it has refilled, so a flooding client slows
/// only itself (TCP backpressure does the rest).
final class ReadRateLimiter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Counts the bytes written (before TLS) for the metrics.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let metrics { metrics.sent(bytes: unwrapOutboundIn(data).readableBytes) }
        context.write(data, promise: promise)
    }

    private var bytesPerSecond: Double
    private var burst: Double
    let gate: ReadGate
    private var tokens: Double
    private var lastRefill: NIODeadline = .now()

    private let metrics: ServerMetrics?

    init(bytesPerSecond: Int, burst: Int, gate: ReadGate, metrics: ServerMetrics? = nil) {
        self.metrics = metrics
        self.bytesPerSecond = Double(max(1, bytesPerSecond))
        self.burst = Double(max(burst, bytesPerSecond))
        self.tokens = self.burst
        self.gate = gate
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        refill()
        let count = unwrapInboundIn(data).readableBytes
        metrics?.received(bytes: count)
        tokens -= Double(count)
        context.fireChannelRead(data)
        if tokens < 0 && !gate.isPaused(by: .rate) {
            gate.pause(.rate, context: context)
            let wait = TimeAmount.nanoseconds(Int64(-tokens / bytesPerSecond * 1_000_000_000) + 1_000_000)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: wait) {
                let (limiter, context) = loopBound.value
                limiter.refill()
                limiter.gate.resume(.rate, context: context)
            }
        }
    }

    /// Raises (or lowers) the rate from now on: an HTTP upload is read faster than XMPP stanzas are.
    func setRate(bytesPerSecond rate: Int) {
        refill()
        bytesPerSecond = Double(max(1, rate))
        burst = max(burst, bytesPerSecond)
    }

    private func refill() {
        let now = NIODeadline.now()
        let elapsed = Double((now - lastRefill).nanoseconds) / 1_000_000_000
        lastRefill = now
        tokens = min(burst, tokens + elapsed * bytesPerSecond)
    }
}
