import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
import XMPPServerPubSub

/// Helpers for pubsub scenarios on the kernel: requests as XML, replies and errors, clients that announce caps.
enum PubSubScenario {
    /// A kernel with PEP and the pubsub service at `pubsub.example.com`.
    static func make(configure: (inout KernelConfiguration) -> Void = { _ in }, storage: ServerStorage = .inMemory()) throws -> KernelScenario {
        try KernelScenario(storage: storage, extraModules: [PEPModule(), PubSubServiceModule()], configure: configure)
    }

    static func iq(_ id: String, _ type: String, to: String? = nil, _ payload: String) -> String {
        "<iq xmlns='jabber:client' type='\(type)' id='\(id)'\(to.map { " to='\($0)'" } ?? "")>\(payload)</iq>"
    }

    static func pubsub(_ body: String, owner: Bool = false) -> String {
        "<pubsub xmlns='http://jabber.org/protocol/pubsub\(owner ? "#owner" : "")'>\(body)</pubsub>"
    }

    /// Sends a request and returns its reply (the result or error with that id).
    static func ask(_ client: TestClient, _ id: String, _ type: String, to: String? = nil, _ payload: String) async throws -> Element {
        try await client.send(iq(id, type, to: to, payload))
        for _ in 0..<500 {
            if let reply = client.session.takeFirst(where: { $0.name == "iq" && $0.attribute("id") == id }) { return reply }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no reply to \(id)")
        return Element("none", namespace: "")
    }

    /// The error condition and pubsub#errors condition of a reply, if it is an error.
    static func error(_ reply: Element) -> (StanzaError.Condition, String?)? {
        guard reply.attribute("type") == "error", let element = reply.child("error"), let error = StanzaError(element: element) else { return nil }
        return (error.condition, error.applicationCondition?.name)
    }

    /// The caps verification string of a client with these `+notify` interests.
    static func capsVer(notify nodes: [String]) -> (ver: String, features: [String]) {
        let features = [DiscoNamespace.info] + nodes.map(PubSubNamespace.notifyFeature)
        return (EntityCapabilities.verification(identities: [DiscoIdentity(category: "client", type: "pc")], features: features), features)
    }

    /// Logs in without presence, sends presence with caps for `nodes`, and answers the server's disco#info query about
    /// them (if it asks: it asks for a verification string it has not seen yet).
    static func loginWithCaps(_ scenario: KernelScenario, _ user: String, _ resource: String, notify nodes: [String]) async throws -> TestClient {
        let client = try await scenario.login(user, resource, available: false)
        let (ver, features) = capsVer(notify: nodes)
        try await client.send("""
            <presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='\(ver)'/></presence>
            """)
        for _ in 0..<100 {
            if let query = client.session.takeFirst(where: { $0.name == "iq" && $0.child("query", namespace: DiscoNamespace.info) != nil }) {
                var info = "<query xmlns='\(DiscoNamespace.info)' node='urn:test#\(ver)'><identity category='client' type='pc'/>"
                for feature in features { info += "<feature var='\(feature)'/>" }
                info += "</query>"
                try await client.send("<iq xmlns='jabber:client' type='result' id='\(query.attribute("id") ?? "")' to='example.com'>\(info)</iq>")
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return client
    }

    /// Waits (up to 5 s) for a pubsub event message on `node` and returns it.
    static func event(_ client: TestClient, node: String) async -> Element? {
        for _ in 0..<500 {
            if let message = client.session.takeFirst(where: { message in
                message.name == "message" && message.child("event", namespace: PubSubNamespace.event)?.firstChildElement?.attribute("node") == node
            }) { return message }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// Whether an event message on `node` arrives within `milliseconds`.
    static func noEvent(_ client: TestClient, node: String, milliseconds: Int = 300) async -> Bool {
        try? await Task.sleep(for: .milliseconds(milliseconds))
        return client.session.takeFirst(where: { $0.name == "message" && $0.child("event", namespace: PubSubNamespace.event) != nil }) == nil
    }
}
