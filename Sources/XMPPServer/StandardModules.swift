import XMPPServerKernel
import XMPPServerMUC
import XMPPServerPubSub

/// The modules xmppd runs, in activation order: the kernel's IM modules, then the hosted services. A feature is
/// added or removed here, by one line.
public enum StandardModules {
    /// Every module of the server.
    public static var all: [any ServerModule] {
        CoreModules.all + [StreamManagementModule(), ClientStateModule(), MUCModule(), PEPModule(), PubSubServiceModule(), HTTPUploadModule(), ProxyModule(), FederationModule()]
    }
}
