import NIOCore
import XMPPCore

/// A bound client session as the kernel sees it: an address and a way to send it elements. The transport
/// (XMPPServer's c2s handler) implements it; tests implement it with a recorder.
///
/// Both methods may be called from any thread; an implementation hops to its own event loop.
public protocol ClientSession: AnyObject, Sendable {
    /// The session's full JID.
    var jid: JID { get }
    /// The event loop the session's connection lives on; the kernel completes the session's work there.
    var eventLoop: any EventLoop { get }
    /// Sends an element to the client.
    func deliver(_ element: Element)
    /// Ends the session with a stream error (`conflict` when replaced, `system-shutdown`, ...), or cleanly.
    func close(with error: StreamError?)
    /// Sends elements and reports whether they were written to the connection (not that the client read them):
    /// for stored stanzas, which are removed from storage only once written.
    func deliverConfirmed(_ elements: [Element]) async -> Bool
    /// The cluster node the session is connected to when that is another node (the session is the mirror of a
    /// session there, ``ClusterLink``); `nil` for a session of this server.
    var clusterNode: String? { get }
}

extension ClientSession {
    /// Delivers each element and reports success: for sessions that cannot tell (test recorders).
    public func deliverConfirmed(_ elements: [Element]) async -> Bool {
        for element in elements { deliver(element) }
        return true
    }

    /// `nil`: a session of this server.
    public var clusterNode: String? { nil }
}
