import NIOCore
import XMPPCore
import XMPPServerKernel

/// The stream-management state of one session (XEP-0198), which outlives its connections: the stanzas sent and
/// not yet acknowledged, the counts both ways, and which connection's session delivers now.
///
/// Every stanza for the session passes ``deliver(_:)``, which queues it and writes it to the current connection;
/// the client's `<a h/>` removes what it has handled. When the connection drops the session detaches: it stays
/// registered (presence and all), keeps queueing, and either a new connection resumes it — the unacknowledged
/// stanzas are written again, in order, once — or, after `sm_resume_timeout`, it ends and the kernel reroutes the
/// queue (``ServerKernel/handleUndelivered(_:of:)``): nothing the server accepted is lost.
final class StreamManagement: Sendable {
    /// The listener's stream-management settings.
    struct Settings: Sendable {
        var resumeTimeoutSeconds: Int
        var maxUnacked: Int
        var location: String?
        /// Unacknowledged stanzas after which the server asks for an acknowledgement.
        var requestEvery = 5
    }

    /// What became of the session when its connection went away.
    enum ConnectionLoss {
        /// The session waits for resumption.
        case detached
        /// The session ended; its unacknowledged stanzas are being rerouted.
        case ended
        /// The connection was no longer the session's (resumed elsewhere, or ended already): nothing to do.
        case superseded
    }

    private enum Phase {
        case attached, detached, ended
    }

    private struct State {
        var current: C2SSession
        var unacked = CircularBuffer<Element>(initialCapacity: 8)
        /// Stanzas sent since enabling, modulo 2^32; the client's `h` counts the same.
        var sent: UInt32 = 0
        /// The client's last `h`.
        var acknowledged: UInt32 = 0
        /// Stanzas from the client handled since enabling; what `<a h/>` says.
        var handled: UInt32 = 0
        /// `sent` when the server last asked for an acknowledgement.
        var requestedAt: UInt32 = 0
        var phase = Phase.attached
        var expiry: Scheduled<Void>?
        /// Counts detachments, so an expiry that fires while a resumption completes does not end the resumed session.
        var detachments = 0
    }

    /// The resumption id (`previd`); empty when the session may not be resumed.
    let id: String
    /// The session's full JID.
    let jid: JID
    let settings: Settings
    private let kernel: ServerKernel
    private let table: ResumptionTable
    private let state: Locked<State>

    var isResumable: Bool { !id.isEmpty }

    init(resumable: Bool, session: C2SSession, settings: Settings, kernel: ServerKernel, table: ResumptionTable) {
        self.id = resumable ? StanzaID.make() + StanzaID.make() : ""
        self.jid = session.jid
        self.settings = settings
        self.kernel = kernel
        self.table = table
        self.state = Locked(State(current: session))
    }

    /// The `<enabled/>` answer (§3).
    var enabledElement: Element {
        var enabled = Element("enabled", namespace: StreamManagementVocabulary.namespace)
        if isResumable {
            enabled.setAttribute("id", to: id)
            enabled.setAttribute("resume", to: "true")
            enabled.setAttribute("max", to: String(settings.resumeTimeoutSeconds))
            enabled.setAttribute("location", to: settings.location)
        }
        return enabled
    }

    // MARK: Outbound

    /// Queues a stanza for the session and writes it to the current connection (none while detached).
    func deliver(_ element: Element) {
        enum Outcome { case queued, overflowAttached(C2SSession), overflowDetached, late(C2SSession) }
        let outcome = state.withLock { state -> Outcome in
            guard state.phase != .ended else { return .late(state.current) }
            state.unacked.append(element)
            state.sent &+= 1
            if state.phase == .attached {
                state.current.write(element)
                if state.sent &- state.requestedAt >= UInt32(settings.requestEvery) {
                    state.requestedAt = state.sent
                    state.current.write(StreamManagementVocabulary.request)
                }
            }
            guard state.unacked.count > settings.maxUnacked else { return .queued }
            return state.phase == .attached ? .overflowAttached(state.current) : .overflowDetached
        }
        switch outcome {
        case .queued:
            break
        case .overflowAttached(let session):
            session.closeConnection(StreamError(.policyViolation, text: "too many unacknowledged stanzas"), mayResume: false)
        case .overflowDetached:
            end(reason: .closedByServer(.resourceConstraint))
        case .late(let session):
            // The session ended while this was on its way: rerouted like the rest.
            let kernel = self.kernel
            kernel.startBackgroundTask { await kernel.handleUndelivered([element], of: session) }
        }
    }

    /// Handles the client's `<a h/>`; `false` when it acknowledges more than was sent (§4: a stream error).
    func acknowledge(_ handledByClient: UInt32) -> Bool {
        state.withLock { state in
            let count = handledByClient &- state.acknowledged
            guard count <= UInt32(state.unacked.count) else { return false }
            state.unacked.removeFirst(Int(count))
            state.acknowledged = handledByClient
            return true
        }
    }

    /// Whether stanzas wait for an acknowledgement (the idle timer asks for one instead of a whitespace keepalive).
    var hasUnacknowledged: Bool { state.withLock { !$0.unacked.isEmpty } }

    /// How many stanzas were sent and what the client acknowledged (tests).
    var counts: (sent: UInt32, acknowledged: UInt32, unacked: Int) {
        state.withLock { ($0.sent, $0.acknowledged, $0.unacked.count) }
    }

    // MARK: Inbound

    /// Counts one stanza from the client as handled (after the kernel processed it).
    func stanzaHandled() {
        state.withLock { $0.handled &+= 1 }
    }

    /// The count `<a h/>` reports.
    var handled: UInt32 { state.withLock { $0.handled } }

    // MARK: Connections

    /// The connection of `session` went away. With `mayResume` (a dropped connection, not a clean close or a
    /// server decision) a resumable session detaches and waits; otherwise it ends now.
    func connectionLost(of session: C2SSession, mayResume: Bool, reason: SessionEndReason) -> ConnectionLoss {
        let detached = state.withLock { state -> Bool? in
            guard state.current === session, state.phase == .attached else { return nil }
            guard mayResume, isResumable, settings.resumeTimeoutSeconds > 0 else { return false }
            state.phase = .detached
            state.detachments += 1
            let detachment = state.detachments
            state.expiry = session.eventLoop.scheduleTask(in: .seconds(Int64(settings.resumeTimeoutSeconds))) { [self] in
                self.end(reason: .disconnected, onlyIfStillDetachedSince: detachment)
            }
            return true
        }
        switch detached {
        case nil: return .superseded
        case true?: return .detached
        case false?:
            end(reason: reason)
            return .ended
        }
    }

    /// Whether `session` is detached (waiting for resumption) now.
    func isDetached(_ session: C2SSession) -> Bool {
        state.withLock { $0.current === session && $0.phase == .detached }
    }

    /// Ends the session for good: it leaves the registry (its contacts see it go) and its unacknowledged stanzas
    /// are rerouted. Does nothing the second time.
    /// With `detachment`, only if the session is still detached since that detachment (an expiry).
    func end(reason: SessionEndReason, onlyIfStillDetachedSince detachment: Int? = nil) {
        let ended = state.withLock { state -> (C2SSession, [Element])? in
            guard state.phase != .ended else { return nil }
            if let detachment, state.phase != .detached || state.detachments != detachment { return nil }
            state.phase = .ended
            state.expiry?.cancel()
            state.expiry = nil
            let unacked = Array(state.unacked)
            state.unacked.removeAll()
            return (state.current, unacked)
        }
        guard let (session, unacked) = ended else { return }
        table.remove(self)
        let kernel = self.kernel
        kernel.startBackgroundTask {
            try? await kernel.sessionEnded(session, reason: reason)?.get()
            if !unacked.isEmpty { await kernel.handleUndelivered(unacked, of: session) }
        }
    }

    /// Moves the session onto `successor` (a new connection of the same user, §5): drops what the client says it
    /// handled, writes `<resumed/>` and then every stanza still unacknowledged to the new connection, in order, and
    /// makes it the one deliveries go to. Returns the session it replaces, or `nil` when the session cannot be
    /// resumed (it ended, or `h` acknowledges more than was sent).
    func resume(onto successor: C2SSession, handledByClient: UInt32) -> C2SSession? {
        state.withLock { state -> C2SSession? in
            guard state.phase != .ended else { return nil }
            let count = handledByClient &- state.acknowledged
            guard count <= UInt32(state.unacked.count) else { return nil }
            state.unacked.removeFirst(Int(count))
            state.acknowledged = handledByClient
            state.expiry?.cancel()
            state.expiry = nil
            let previous = state.current
            state.current = successor
            state.phase = .attached
            successor.write(Element("resumed", namespace: StreamManagementVocabulary.namespace,
                                    attributes: ["h": String(state.handled), "previd": id]))
            for element in state.unacked { successor.write(element) }
            if !state.unacked.isEmpty {
                state.requestedAt = state.sent
                successor.write(StreamManagementVocabulary.request)
            }
            return previous
        }
    }
}
