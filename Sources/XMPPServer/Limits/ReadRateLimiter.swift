import NIOCore

/// Limits how fast one connection may send: a token bucket of `bytesPerSecond` with a burst allowance.
/// When the bucket runs dry, reading from the socket pauses until it has refilled, so a flooding client slows
/// only itself (TCP backpressure does the rest).
final class ReadRateLimiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let bytesPerSecond: Double
    private let burst: Double
    private var tokens: Double
    private var lastRefill: NIODeadline = .now()
    private var paused = false

    init(bytesPerSecond: Int, burst: Int) {
        self.bytesPerSecond = Double(max(1, bytesPerSecond))
        self.burst = Double(max(burst, bytesPerSecond))
        self.tokens = self.burst
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        refill()
        tokens -= Double(unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
        if tokens < 0 && !paused {
            paused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            let wait = TimeAmount.nanoseconds(Int64(-tokens / bytesPerSecond * 1_000_000_000) + 1_000_000)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: wait) {
                let (limiter, context) = loopBound.value
                limiter.paused = false
                limiter.refill()
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
                context.read()
            }
        }
    }

    private func refill() {
        let now = NIODeadline.now()
        let elapsed = Double((now - lastRefill).nanoseconds) / 1_000_000_000
        lastRefill = now
        tokens = min(burst, tokens + elapsed * bytesPerSecond)
    }
}
