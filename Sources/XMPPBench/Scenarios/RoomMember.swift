import NIOCore
import XMPPCore
import XMPPTransport

/// One occupant of the benchmark room, on its connection's event loop: it enters, counts the groupchat messages it
/// receives (with their latency, from the send time in the body) and, if it is a sender, keeps a window of its own
/// messages in flight, sending the next each time the room reflects one back (XEP-0045 §7.4).
final class RoomMember: @unchecked Sendable {
    // @unchecked: every member is used only on `eventLoop` (the scenario hops there with `submit`).
    let connection: BenchConnection
    let nickname: String
    let room: String
    private(set) var received: UInt64 = 0
    private(set) var sent: UInt64 = 0
    private(set) var histogram = LatencyHistogram()
    let entered: EventLoopPromise<Void>
    private(set) var inFlight = 0
    private var window = 0
    private var isRunning = false
    private var isRecording = false
    private var needsFlush = false
    /// Waiting for the room to accept the instant configuration.
    private var unlocked: EventLoopPromise<Void>?
    private let prefix: [UInt8]

    var eventLoop: any EventLoop { connection.eventLoop }

    init(connection: BenchConnection, room: String, nickname: String) {
        self.connection = connection
        self.room = room
        self.nickname = nickname
        self.entered = connection.eventLoop.makePromise()
        prefix = Array("<message to='\(room)' type='groupchat'><body>".utf8)
        connection.events.onStanza = { [unowned self] in self.receive($0) }
        connection.events.onReadComplete = { [unowned self] in self.flushIfNeeded() }
    }

    /// Enters the room without history; the future completes on the room's self-presence (status 110).
    func enter() -> EventLoopFuture<Void> {
        let presence = "<presence to='\(room)/\(nickname)'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
        write(presence)
        connection.channel.flush()
        return entered.futureResult
    }

    /// Accepts the default configuration of a room this member just created (an instant room, XEP-0045 §10.1.2); the
    /// future completes when the room says it is unlocked, so others can enter.
    func unlockRoom() -> EventLoopFuture<Void> {
        let unlocked = connection.eventLoop.makePromise(of: Void.self)
        self.unlocked = unlocked
        write("<iq type='set' id='unlock' to='\(room)'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
        connection.channel.flush()
        return unlocked.futureResult
    }

    /// Keeps `window` own messages in flight.
    func startSending(window: Int) {
        self.window = window
        isRunning = true
        while inFlight < window { send() }
        flushIfNeeded()
    }

    /// Open loop: one message every `interval`, whatever is in flight (a steady load for the soak).
    func startPacing(every interval: TimeAmount) {
        isRunning = true
        connection.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] task in
            guard let self, self.isRunning else { return task.cancel() }
            self.send()
            self.flushIfNeeded()
        }
    }

    func startRecording() { isRecording = true }
    func stop() { isRunning = false }

    private func receive(_ element: Element) {
        switch element.name {
        case "iq" where element.attribute("id") == "unlock":
            if element.attribute("type") == "result" { unlocked?.succeed(()) } else {
                unlocked?.fail(BenchConnectionError.malformed("room not unlocked: \(element)"))
            }
            unlocked = nil
        case "presence":
            let isSelf = element.child("x", namespace: MUCNamespace.user)?.children("status", namespace: MUCNamespace.user)
                .contains { $0.attribute("code") == "110" } ?? false
            if isSelf && element.attribute("type") == nil { entered.succeed(()) }
            if element.attribute("type") == "error" { entered.fail(BenchConnectionError.malformed("room refused entry: \(element)")) }
        case "message" where element.attribute("type") == "groupchat":
            guard let body = element.child("body")?.text, let space = body.firstIndex(of: " "),
                  let stamp = UInt64(body[body.index(after: space)...]) else { return }
            received += 1
            if isRecording {
                let now = Self.now()
                histogram.record(microseconds: now > stamp ? (now - stamp) / 1000 : 0)
            }
            // Our own message, reflected: it went around; the next may go.
            if element.attribute("from")?.hasSuffix("/\(nickname)") == true {
                inFlight -= 1
                if isRunning && inFlight < window { send() }
            }
        default:
            break
        }
    }

    private func send() {
        var buffer = connection.channel.allocator.buffer(capacity: prefix.count + 64)
        buffer.writeBytes(prefix)
        buffer.writeString("\(sent) \(Self.now())</body></message>")
        connection.channel.write(XMPPOutbound.serialized(buffer), promise: nil)
        sent += 1
        inFlight += 1
        needsFlush = true
    }

    private func write(_ text: String) {
        connection.channel.write(XMPPOutbound.serialized(connection.channel.allocator.buffer(string: text)), promise: nil)
    }

    private func flushIfNeeded() {
        guard needsFlush else { return }
        needsFlush = false
        connection.channel.flush()
    }

    private static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
}
