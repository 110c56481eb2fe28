import Foundation
import XMPPCore

/// Contact addresses for the server (XEP-0157): where to report abuse, reach the administrators or get support,
/// published in the server's disco#info as the `http://jabber.org/network/serverinfo` form (XEP-0128), from the
/// `contact_*` config keys (comma-separated URIs: `mailto:abuse@example.com, xmpp:abuse@example.com`).
public struct ContactAddressesModule: ServerModule {
    public let name = "contact_addresses"
    public let specifications = ["XEP-0157 1.1.1"]

    /// The form's FORM_TYPE.
    public static let formType = "http://jabber.org/network/serverinfo"

    /// The address kinds of XEP-0157 §4, with their config keys.
    static let kinds: [(field: String, option: ConfigOption)] = [
        "abuse", "admin", "feedback", "sales", "security", "status", "support",
    ].map { kind in
        ("\(kind)-addresses", ConfigOption.string("contact_\(kind)", default: "", "addresses (URIs, comma-separated) for \(kind) contact, published in disco#info (XEP-0157)"))
    }

    public var options: [ConfigOption] { Self.kinds.map(\.option) }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        var form = DataForm(type: .result)
        form.setValues([Self.formType], for: "FORM_TYPE", type: .hidden)
        var any = false
        for kind in Self.kinds {
            let addresses = host.configuration.value(of: kind.option).split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !addresses.isEmpty else { continue }
            form.setValues(addresses, for: kind.field, type: .listMulti)
            any = true
        }
        // Nothing configured: no form, so the server's disco#info stays as it was.
        if any { host.addServerInfoForm(form) }
    }
}
