import Benchmark
import ParserCorpus
import XMPPCore

/// XMPPCore's stream parser against libexpat building the same element trees, on the same corpus and chunks.
/// Each iteration parses the whole corpus (header plus 4,000 stanzas). Custom metrics give MB/s and
/// stanzas/s; malloc counts per iteration divided by 4,000 give allocations per stanza.
let benchmarks: @Sendable () -> Void = {
    let corpus = Corpus()
    let metrics: [BenchmarkMetric] = [
        .wallClock, .throughput, .mallocCountTotal,
        .custom("MB/s", polarity: .prefersLarger, useScalingFactor: false),
        .custom("kstanzas/s", polarity: .prefersLarger, useScalingFactor: false),
    ]
    Benchmark.defaultConfiguration = .init(metrics: metrics, warmupIterations: 3, maxDuration: .seconds(10), maxIterations: 200)

    func report(_ benchmark: Benchmark, start: ContinuousClock.Instant) {
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        benchmark.measurement(.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false),
                              Int(Double(corpus.byteCount) / 1_000_000 / seconds))
        benchmark.measurement(.custom("kstanzas/s", polarity: .prefersLarger, useScalingFactor: false),
                              Int(Double(corpus.stanzaCount) / 1_000 / seconds))
    }

    Benchmark("XMPPCore parser (trees, namespaces)") { benchmark in
        let start = ContinuousClock.now
        var parser = XMLStreamParser()
        var count = 0
        parser.append(corpus.header)
        do {
            for chunk in corpus.chunks {
                parser.append(chunk)
                while let event = try parser.nextEvent() {
                    if case .element(let element) = event {
                        count += 1
                        blackHole(element)
                    }
                }
            }
        } catch {
            benchmark.error("parse failed: \(error)")
        }
        precondition(count == corpus.stanzaCount)
        report(benchmark, start: start)
    }

    Benchmark("libexpat parser (trees, namespaces)") { benchmark in
        let start = ContinuousClock.now
        let builder = ExpatTreeBuilder()
        _ = builder.parse(corpus.header)
        for chunk in corpus.chunks where !builder.parse(chunk) {
            benchmark.error("expat failed")
        }
        precondition(builder.elementCount == corpus.stanzaCount)
        blackHole(builder.lastElement)
        report(benchmark, start: start)
    }
}
