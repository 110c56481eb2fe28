import XMPPServerKernel

/// The figures of a server with several domains, as `xmppctl stats`, `remote-domains` and `/metrics` report them: one
/// set for the server, whatever the number of kernels.
enum CombinedFigures {
    /// The modules' figures of every kernel, by name in first-seen order: added up, but a `…_peak` is the largest.
    static func statistics(of kernels: [ServerKernel]) -> [(name: String, value: Int)] {
        var figures: [(name: String, value: Int)] = []
        var index: [String: Int] = [:]
        for kernel in kernels {
            for (name, value) in kernel.statistics {
                if let at = index[name] {
                    figures[at].value = name.hasSuffix("_peak") ? max(figures[at].value, value) : figures[at].value + value
                } else {
                    index[name] = figures.count
                    figures.append((name, value))
                }
            }
        }
        return figures
    }

    /// The remote domains with a ready stream to any of the kernels' domains, each once, sorted, with the directions
    /// it has with any of them.
    static func remoteDomains(of kernels: [ServerKernel]) -> [(domain: String, incoming: Bool, outgoing: Bool)] {
        var directions: [String: (incoming: Bool, outgoing: Bool)] = [:]
        for kernel in kernels {
            for entry in (kernel.remoteRouter as? ServerLinks)?.remoteDomains ?? [] {
                let known = directions[entry.domain] ?? (false, false)
                directions[entry.domain] = (known.incoming || entry.incoming, known.outgoing || entry.outgoing)
            }
        }
        return directions.keys.sorted().map { ($0, directions[$0]!.incoming, directions[$0]!.outgoing) }
    }
}
