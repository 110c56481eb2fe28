import NIOCore
import Testing
@testable import XMPPCore

/// Runs a client and a server negotiation state machine against each other over in-memory byte pipes,
/// serializing and parsing every element as a socket would carry it. TLS is simulated: when both sides
/// start it, each gets the same channel-binding data.
struct NegotiationHarness {
    var server: ServerNegotiationStateMachine
    var client: ClientNegotiationStateMachine
    var passwords: [String: String] = ["juliet": "balcony"]
    var channelBinding = ChannelBinding(type: .tlsExporter, data: Array(repeating: 0x42, count: 32))

    private(set) var clientResult: ClientNegotiationStateMachine.Action?
    private(set) var serverClose: (error: StreamError?, sentHeader: Bool)?
    private(set) var serverEstablished: JID?
    private(set) var serverStanzas: [Element] = []
    private(set) var transcript: [String] = []
    private var toServer = ByteBuffer()
    private var toClient = ByteBuffer()
    private var serverParser = XMLStreamParser()
    private var clientParser = XMLStreamParser()

    init(server: ServerNegotiationStateMachine.Configuration, client: ClientNegotiationStateMachine.Configuration) {
        self.server = ServerNegotiationStateMachine(configuration: server)
        self.client = ClientNegotiationStateMachine(configuration: client)
    }

    /// Runs until the client is established or failed and nothing more moves.
    mutating func run() {
        handleClient(client.start())
        var rounds = 0
        while toServer.readableBytes > 0 || toClient.readableBytes > 0 {
            rounds += 1
            guard rounds <= 100 else {
                Issue.record("negotiation did not settle after 100 rounds:\n\(transcript.joined(separator: "\n"))")
                return
            }
            pumpServer()
            pumpClient()
        }
    }

    /// Sends raw bytes to the server as the client would, then runs.
    mutating func clientSends(_ text: String) {
        toServer.writeString(text)
        transcript.append("C: \(text)")
        pumpServer()
    }

    private mutating func pumpServer() {
        guard toServer.readableBytes > 0, serverClose == nil else { return }
        serverParser.append(toServer)
        toServer.clear()
        do {
            while serverClose == nil, let event = try serverParser.nextEvent() {
                switch event {
                case .streamOpened(let header, let content): handleServer(server.receivedHeader(header, contentNamespace: content))
                case .element(let element): handleServer(server.received(element))
                case .streamClosed: handleServer(server.receivedStreamClose())
                }
            }
        } catch {
            handleServer(server.parserFailed(error))
        }
    }

    private mutating func pumpClient() {
        guard toClient.readableBytes > 0 else { return }
        clientParser.append(toClient)
        toClient.clear()
        do {
            while let event = try clientParser.nextEvent() {
                switch event {
                case .streamOpened(let header, let content): handleClient(client.receivedHeader(header, contentNamespace: content))
                case .element(let element): handleClient(client.received(element))
                case .streamClosed: handleClient(client.receivedStreamClose())
                }
            }
        } catch {
            handleClient(client.parserFailed(error))
        }
    }

    private mutating func serverWrites(_ element: Element) {
        transcript.append("S: \(element)")
        element.writeInStream(to: &toClient, contentNamespace: XMLNamespace.client)
    }

    private mutating func clientWrites(_ element: Element) {
        transcript.append("C: \(element)")
        element.write(to: &toServer, inheritedNamespace: XMLNamespace.client)
    }

    private mutating func handleServer(_ action: ServerNegotiationStateMachine.Action) {
        switch action {
        case .none:
            break
        case .send(let element):
            serverWrites(element)
        case .openStream(let header, let features):
            transcript.append("S: header \(header.id ?? "")")
            header.write(to: &toClient)
            serverWrites(features.element)
        case .startTLS(let proceed):
            serverWrites(proceed)
            serverParser.reset()
            server.tlsEstablished(channelBinding: channelBinding)
        case .lookUpCredentials(let username, let hash):
            let credentials = passwords[username].map { SCRAMCredentials.derive(password: $0, hash: hash) }
            handleServer(server.credentialsFound(credentials))
        case .checkPassword(let password, let credentials):
            handleServer(server.plainPasswordChecked(matches: ServerNegotiationStateMachine.passwordMatches(password, credentials)))
        case .authenticated(_, let success):
            serverWrites(success)
            serverParser.reset()
        case .bindResource(let username, let requested):
            guard let domain = server.streamDomain,
                  let jid = try? JID(localpart: username, domainpart: domain, resourcepart: requested ?? "generated") else {
                Issue.record("cannot bind \(username) with resource \(requested ?? "-")")
                return
            }
            handleServer(server.resourceBound(jid))
        case .established(let jid, let reply):
            serverEstablished = jid
            serverWrites(reply)
        case .preAuthenticationIQ(let element), .stanza(let element), .nonza(let element):
            serverStanzas.append(element)
        case .sendAndClose(let element):
            serverWrites(element)
            serverClose = (nil, false)
        case .close(let error, let header):
            header?.write(to: &toClient)
            if let error { serverWrites(error.element) }
            toClient.writeStaticString(StreamHeader.closingTag)
            serverClose = (error, header != nil)
        }
    }

    private mutating func handleClient(_ action: ClientNegotiationStateMachine.Action) {
        switch action {
        case .none, .stanza:
            break
        case .sendHeader(let header), .restartStream(let header):
            if case .restartStream = action { clientParser.reset() }
            transcript.append("C: header to=\(header.to ?? "")")
            header.write(to: &toServer)
        case .send(let element):
            clientWrites(element)
        case .startTLS:
            clientParser.reset()
            handleClient(client.tlsEstablished(channelBinding: channelBinding))
        case .established, .resumed, .failed:
            clientResult = action
        }
    }
}
