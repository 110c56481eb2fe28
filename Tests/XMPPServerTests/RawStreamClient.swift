import Foundation
import NIOCore
import Testing
import XMPPCore
import XMPPServerKernel
import XMPPTestSupport

/// A client at the byte level for stream-management tests: logs in (or resumes) with the client negotiation
/// machine over a blocking loopback socket, then sends raw XML and reads elements one by one. It can drop its
/// connection the rude way (RST) or just fall silent.
final class RawStreamClient: @unchecked Sendable {
    // @unchecked: a test drives one client from one task at a time; blocking reads run on a thread of their own.
    let socket: Socket
    let jid: JID
    /// How the stream came up: resumed (with the server's handled count) or bound afresh.
    let resumedHandled: UInt32?
    /// The parser, holding whatever arrived after the stream was established and was not read yet.
    private(set) var parser: XMLStreamParser
    private var inbox: [Element]

    private init(socket: Socket, jid: JID, resumedHandled: UInt32?, parser: XMLStreamParser, inbox: [Element]) {
        self.socket = socket
        self.jid = jid
        self.resumedHandled = resumedHandled
        self.parser = parser
        self.inbox = inbox
    }

    /// Logs in as `user` on `port` (plain TCP, SCRAM), binding `resource` (or one the server picks) or resuming
    /// `resumption`; `receiveBuffer` and `sourceAddress` as for ``Socket``.
    static func connect(port: Int, user: String, password: String = "pw", resource: String? = "phone",
                        resumption: StreamResumption? = nil, receiveBuffer: Int32? = nil,
                        sourceAddress: String? = nil) async throws -> RawStreamClient {
        try await blocking {
            let socket = try Socket(port: port, receiveBuffer: receiveBuffer, sourceAddress: sourceAddress)
            var configuration = ClientNegotiationStateMachine.Configuration(
                jid: try JID(localpart: user, domainpart: "localhost", resourcepart: resource), password: password, tls: .disabled,
                mechanisms: [.scramSHA256])
            configuration.resumption = resumption
            var machine = ClientNegotiationStateMachine(configuration: configuration, isSecured: false)
            var parser = XMLStreamParser()
            var action = machine.start()
            while true {
                switch action {
                case .sendHeader(let header), .restartStream(let header):
                    if case .restartStream = action { parser = XMLStreamParser() }
                    var buffer = ByteBuffer()
                    header.write(to: &buffer)
                    socket.send(String(buffer: buffer))
                case .send(let element):
                    socket.send(element.xmlString)
                case .established(let jid, _):
                    return RawStreamClient(socket: socket, jid: jid, resumedHandled: nil, parser: parser, inbox: [])
                case .resumed(let jid, let handled, _):
                    return RawStreamClient(socket: socket, jid: jid, resumedHandled: handled, parser: parser, inbox: [])
                case .failed(let error):
                    throw TestSetupError("login failed: \(error)")
                case .none, .stanza, .startTLS:
                    break
                }
                action = .none
                while case .none = action {
                    if let event = try parser.nextEvent() {
                        action = switch event {
                        case .streamOpened(let header, let namespace): machine.receivedHeader(header, contentNamespace: namespace)
                        case .element(let element): machine.received(element)
                        case .streamClosed: machine.receivedStreamClose()
                        }
                    } else {
                        let bytes = socket.readSome(waitingUpTo: .seconds(30))
                        guard !bytes.isEmpty else { throw TestSetupError("the server closed during login (or said nothing for 30 s)") }
                        parser.append(contentsOf: bytes)
                    }
                }
            }
        }
    }

    /// Sends raw XML.
    func send(_ xml: String) {
        socket.send(xml)
    }

    /// The next element within `timeout` (nil when none came, or the stream closed).
    func next(timeout: Duration = .seconds(5)) async -> Element? {
        try? await blocking { self.nextNow(timeout: timeout) }
    }

    /// ``next(timeout:)`` on the calling thread: only inside ``blocking``.
    func nextNow(timeout: Duration) -> Element? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if !inbox.isEmpty { return inbox.removeFirst() }
            do {
                while let event = try parser.nextEvent() {
                    if case .element(let element) = event { inbox.append(element) }
                    if case .streamClosed = event { inbox.append(Element("closed", namespace: "test:closed")) }
                }
            } catch {
                return nil
            }
            if !inbox.isEmpty { continue }
            guard ContinuousClock.now < deadline else { return nil }
            let started = ContinuousClock.now
            let bytes = socket.readSome()
            // Nothing at once means the peer closed; nothing after the socket's receive timeout, just silence.
            if bytes.isEmpty && ContinuousClock.now - started < .seconds(1) { return nil }
            parser.append(contentsOf: bytes)
        }
    }

    /// Elements until one matches `predicate` (included), within `timeout` in all.
    func collect(until predicate: (Element) -> Bool, timeout: Duration = .seconds(5)) async -> [Element] {
        var collected: [Element] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, let element = await next(timeout: deadline - ContinuousClock.now) {
            collected.append(element)
            if predicate(element) { break }
        }
        return collected
    }

    /// Drops the connection with a TCP reset, as a phone losing its network does from the server's point of view.
    func abort() {
        socket.abort()
    }
}

extension Element {
    /// Whether this is a stream-management element of `name`.
    func isStreamManagement(_ name: String) -> Bool { self.name == name && namespace == StreamManagementVocabulary.namespace }
}
