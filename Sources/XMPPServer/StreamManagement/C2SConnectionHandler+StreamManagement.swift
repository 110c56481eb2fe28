import Logging
import NIOCore
import XMPPCore
import XMPPServerKernel
import XMPPTransport

// Stream management's side of the c2s connection (XEP-0198): enabling, acknowledgements, resumption, and what
// happens to the session when the connection goes.
extension C2SConnectionHandler {
    /// Handles `<enable/>`, `<r/>`, `<a/>` and `<resume/>`.
    func handleStreamManagement(_ element: Element, context: ChannelHandlerContext) {
        switch element.name {
        case "enable":
            enableStreamManagement(element, context: context)
        case "resume":
            resumeSession(element, context: context)
        case "r":
            guard let session, let managed = session.streamManagement else { return closeUnexpected(element, context: context) }
            // In order with what the session was sent (after <enabled/>, which may still wait in the batcher).
            session.write(StreamManagementVocabulary.answer(managed.handled))
        case "a":
            guard let managed = session?.streamManagement else { return closeUnexpected(element, context: context) }
            guard let handled = StreamManagementVocabulary.handledCount(in: element), managed.acknowledge(handled) else {
                let counts = managed.counts
                var error = StreamError(.undefinedCondition, text: "acknowledged more stanzas than were sent")
                error.applicationCondition = Element("handled-count-too-high", namespace: StreamManagementVocabulary.namespace,
                                                     attributes: ["h": element.attribute("h") ?? "", "send-count": String(counts.sent)])
                return closeStream(with: error, header: nil, context: context)
            }
        default:
            closeUnexpected(element, context: context)
        }
    }

    private func closeUnexpected(_ element: Element, context: ChannelHandlerContext) {
        closeStream(with: StreamError(.unsupportedStanzaType, text: "\(element.name) before stream management was enabled"), header: nil, context: context)
    }

    /// `<enable/>` after binding, once (§3); `resume='true'` makes the session resumable.
    private func enableStreamManagement(_ element: Element, context: ChannelHandlerContext) {
        guard let session, session.streamManagement == nil, let settings = shared.streamManagement else {
            return write(.element(StreamManagementVocabulary.failed(.unexpectedRequest)), context: context)
        }
        let resumable = ["true", "1"].contains(element.attribute("resume") ?? "false") && settings.resumeTimeoutSeconds > 0
        let managed = StreamManagement(resumable: resumable, session: session, settings: settings, kernel: shared.kernel, table: shared.resumption)
        if resumable { shared.resumption.insert(managed) }
        session.enableStreamManagement(managed, announcing: managed.enabledElement)
    }

    /// `<resume/>` in place of binding (§5): the authenticated user's own session, still waiting or still attached
    /// to a connection the client has given up on.
    private func resumeSession(_ element: Element, context: ChannelHandlerContext) {
        let kernel = shared.kernel
        guard session == nil, let user = authenticatedUser, let previd = element.attribute("previd"),
              let handled = StreamManagementVocabulary.handledCount(in: element),
              let managed = shared.resumption.lookUp(previd), managed.jid.localpart == user,
              let previous = kernel.registry.entry(managed.jid)?.session as? C2SSession, previous.streamManagement === managed else {
            return write(.element(StreamManagementVocabulary.failed(.itemNotFound)), context: context)
        }
        let successor = C2SSession(jid: managed.jid, channel: context.channel, batcher: shared.batchers.batcher(for: context.eventLoop),
                                   logger: shared.logger, metrics: shared.metrics, streamManagement: managed)
        guard machine.streamResumed(managed.jid) else {
            return write(.element(StreamManagementVocabulary.failed(.unexpectedRequest)), context: context)
        }
        // The registry first: once <resumed/> and the replay are written, the session must be the one routed to.
        guard kernel.registry.replace(previous, with: successor) else {
            return write(.element(StreamManagementVocabulary.failed(.itemNotFound)), context: context)
        }
        guard let replaced = managed.resume(onto: successor, handledByClient: handled) else {
            // Ended meanwhile, or h acknowledges more than was sent: the successor leaves the registry again.
            _ = kernel.sessionEnded(successor)
            return closeStream(with: StreamError(.undefinedCondition, text: "the session cannot be resumed"), header: nil, context: context)
        }
        session = successor
        negotiationTimer?.cancel()
        // A connection the client left behind (its network changed) closes without ending the session.
        if replaced !== successor { replaced.closeConnection(StreamError(.conflict, text: "resumed on another connection"), mayResume: false) }
    }

    /// The connection is going: a stream-managed session detaches or ends (rerouting what it did not acknowledge);
    /// any other session ends.
    func releaseSession(reason: SessionEndReason, mayResume: Bool) {
        guard let session else { return }
        self.session = nil
        if let managed = session.streamManagement {
            // What client state indication held back goes into the queue, to be replayed if the session resumes.
            session.setInactive(false, limit: 0)
            switch managed.connectionLost(of: session, mayResume: mayResume, reason: reason) {
            case .detached: shared.logger.info("session detached, waiting for resumption", metadata: ["jid": "\(session.jid)"])
            case .ended, .superseded: break
            }
        } else {
            _ = shared.kernel.sessionEnded(session, reason: reason)
        }
    }
}
