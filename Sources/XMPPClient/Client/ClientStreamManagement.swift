import XMPPCore

/// The client's half of stream management (XEP-0198): what it sent that the server has not acknowledged, how many
/// stanzas it handled from the server, and the id to resume with. Kept across connections, so a session the server
/// still holds can be resumed and what was in flight sent again, exactly once.
struct ClientStreamManagement {
    /// Stanzas are counted and kept from when `<enable/>` is sent.
    private(set) var isEnabled = false
    /// The server counts from when it answered `<enabled/>`; so does our count of its stanzas.
    private(set) var countsInbound = false
    /// The server's id for resuming; `nil` when the session cannot be resumed.
    private(set) var resumptionID: String?
    /// The session's full JID, for resuming.
    private(set) var jid: JID?
    /// Stanzas handled from the server (modulo 2^32).
    private(set) var handled: UInt32 = 0
    /// The server's last `h`.
    private var acknowledged: UInt32 = 0
    /// Sent and not yet acknowledged, oldest first.
    private(set) var unacknowledged: [Element] = []
    /// Whether an `<r/>` is about to be written.
    var ackRequestScheduled = false

    /// `<enable/>` is going out for the session bound to `jid`: count from here.
    mutating func enabling(jid: JID) {
        self = ClientStreamManagement()
        isEnabled = true
        self.jid = jid
    }

    /// Keeps a stanza being written (nonzas are not counted); `true` when it was kept.
    mutating func recordOutbound(_ element: Element) -> Bool {
        guard isEnabled, element.isStanza else { return false }
        unacknowledged.append(element)
        return true
    }

    /// Counts a stanza from the server.
    mutating func recordInbound(_ element: Element) {
        if countsInbound && element.isStanza { handled &+= 1 }
    }

    /// The server answered `<enabled/>` (with an id when resumable).
    mutating func enabled(_ element: Element) {
        countsInbound = true
        if element.attribute("resume") == "true" || element.attribute("resume") == "1" { resumptionID = element.attribute("id") }
    }

    /// The server refused to enable, or the session could not be resumed: nothing is counted any more.
    mutating func disable() {
        self = ClientStreamManagement()
    }

    /// Applies the server's `h`: returns what it acknowledged, oldest first; `nil` when `h` is more than was sent.
    mutating func acknowledge(_ serverHandled: UInt32) -> [Element]? {
        let count = serverHandled &- acknowledged
        guard count <= UInt32(unacknowledged.count) else { return nil }
        let done = Array(unacknowledged.prefix(Int(count)))
        unacknowledged.removeFirst(Int(count))
        acknowledged = serverHandled
        return done
    }

    /// What the next connection needs to resume, if the session may be resumed.
    var resumption: StreamResumption? {
        guard let resumptionID, let jid else { return nil }
        return StreamResumption(previousID: resumptionID, handled: handled, jid: jid)
    }

    /// The session could not be resumed: the messages it never got acknowledged, to send again on the new session
    /// (their origin ids let recipients drop a copy they did get); everything else is forgotten.
    mutating func takeUnacknowledgedMessages() -> [Element] {
        let messages = unacknowledged.filter { $0.name == "message" }
        self = ClientStreamManagement()
        return messages
    }
}
