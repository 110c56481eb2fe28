import NIOCore
import XMPPCore
import XMPPTransport

/// A sender and a receiver on the same event loop, exchanging chat messages whose body carries a sequence
/// number and the send time. Confined to that event loop: the receiver's reads drive the sender's writes
/// directly, with no locks, and the sender flushes once per batch of reads.
final class MessagePair: @unchecked Sendable {
    // @unchecked: every member is used only on `eventLoop` (the scenario hops there with `submit`).
    /// What a pair has done so far.
    struct Counts {
        var sent: UInt64 = 0
        var received: UInt64 = 0
        var bounced: UInt64 = 0
        var skipped: UInt64 = 0
        var histogram = LatencyHistogram()
    }

    let sender: BenchConnection
    let receiver: BenchConnection
    private let messagePrefix: [UInt8]
    private static let messageSuffix: [UInt8] = Array("</body></message>".utf8)
    private(set) var counts = Counts()
    private var inFlight = 0
    private var window = 0
    private var isRunning = false
    private var needsFlush = false
    private var isRecording = false
    private var interval: Int64 = 0
    private var nextDue: UInt64 = 0

    var eventLoop: any EventLoop { sender.eventLoop }
    var inFlightCount: Int { inFlight }

    init(sender: BenchConnection, receiver: BenchConnection) {
        self.sender = sender
        self.receiver = receiver
        messagePrefix = Array("<message to='\(receiver.jid)' type='chat'><body>".utf8)
        receiver.events.onStanza = { [unowned self] in self.receivedByReceiver($0) }
        receiver.events.onReadComplete = { [unowned self] in self.flushIfNeeded() }
        sender.events.onStanza = { [unowned self] in self.receivedBySender($0) }
    }

    /// Closed loop: keeps `window` messages in flight, sending one for each one delivered.
    func startClosedLoop(window: Int) {
        self.window = window
        isRunning = true
        while inFlight < window { send(timestamp: Self.now()) }
        flushIfNeeded()
    }

    /// Open loop: one message every `intervalNanoseconds`, starting after `phase` nanoseconds, whatever is in
    /// flight (up to `cap`, past which sends are skipped and counted). Latency is measured from the time each
    /// message was due, so a stalled server cannot hide its stalls.
    func startOpenLoop(intervalNanoseconds: Int64, phase: Int64, cap: Int) {
        interval = intervalNanoseconds
        window = cap
        isRunning = true
        nextDue = Self.now() + UInt64(phase)
        scheduleTick()
    }

    /// Latencies count from now on, in a fresh histogram.
    func startRecording() {
        counts.histogram = LatencyHistogram()
        isRecording = true
    }

    /// No new messages after this, and no more latencies recorded.
    func stop() {
        isRunning = false
        isRecording = false
    }

    private func scheduleTick() {
        let deadline = NIODeadline.uptimeNanoseconds(nextDue)
        eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            guard isRunning else { return }
            let now = Self.now()
            while nextDue <= now {
                if inFlight < window { send(timestamp: nextDue) } else { counts.skipped += 1 }
                nextDue += UInt64(interval)
            }
            flushIfNeeded()
            scheduleTick()
        }
    }

    private func send(timestamp: UInt64) {
        var buffer = sender.channel.allocator.buffer(capacity: messagePrefix.count + 64)
        buffer.writeBytes(messagePrefix)
        buffer.writeString(String(counts.sent))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(String(timestamp))
        buffer.writeBytes(Self.messageSuffix)
        sender.channel.write(XMPPOutbound.serialized(buffer), promise: nil)
        counts.sent += 1
        inFlight += 1
        needsFlush = true
    }

    private func receivedByReceiver(_ element: Element) {
        guard element.name == "message", let body = element.child("body")?.text,
              let space = body.firstIndex(of: " "), let stamp = UInt64(body[body.index(after: space)...]) else { return }
        counts.received += 1
        inFlight -= 1
        if isRecording {
            let now = Self.now()
            counts.histogram.record(microseconds: now > stamp ? (now - stamp) / 1000 : 0)
        }
        if isRunning && interval == 0 && inFlight < window { send(timestamp: Self.now()) }
    }

    private func receivedBySender(_ element: Element) {
        if element.attribute("type") == "error" {
            counts.bounced += 1
            inFlight -= 1
        }
    }

    private func flushIfNeeded() {
        guard needsFlush else { return }
        needsFlush = false
        sender.channel.flush()
    }

    private static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
}
