import XMPPServerKernel
import XMPPServerMUC
import XMPPServerPubSub
import XMPPServerCluster

/// The modules xmppd runs, in activation order: the kernel's IM modules, then the hosted services. A feature is
/// added or removed here, by one line.
public enum StandardModules {
    /// Every module of the server.
    public static var all: [any ServerModule] {
        CoreModules.all + [StreamManagementModule(), ClientStateModule(), MUCModule(), PEPModule(), PubSubServiceModule(), HTTPUploadModule(), ProxyModule(), FederationModule(),
                              ClusterModule()]
    }

    /// The modules of a virtual host (``ServerConfiguration/virtualHosts``): all but the file transfer services, whose
    /// listeners (the web listener's upload, the SOCKS5 proxy) serve the first domain only.
    public static var virtualHost: [any ServerModule] {
        all.filter { !($0 is HTTPUploadModule || $0 is ProxyModule) }
    }
}
