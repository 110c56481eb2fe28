import Logging
import NIOCore
import XMPPCore
import XMPPServerKernel

/// A session of another node as this node's registry holds it: what the kernel delivers to it goes to that node's
/// inbox, and closing it asks that node to close the real one.
final class MirroredSession: ClientSession {
    let jid: JID
    let node: String
    let eventLoop: any EventLoop
    private let cluster: ClusterNode

    init(jid: JID, node: String, eventLoop: any EventLoop, cluster: ClusterNode) {
        self.jid = jid
        self.node = node
        self.eventLoop = eventLoop
        self.cluster = cluster
    }

    var clusterNode: String? { node }

    func deliver(_ element: Element) {
        cluster.forward(element, to: jid, on: node)
    }

    func close(with error: StreamError?) {
        cluster.send(.close(jid: jid, condition: error?.condition.rawValue, text: error?.text), to: node)
    }
}
