import Hummingbird

/// Every registered path pattern with the methods it answers, to tell a wrong
/// method (405, with `Allow`) from an unknown path (404).
///
/// Built from a router's registered routes, so that it cannot drift from them.
struct RouteTable: Sendable {
    /// Path components as `RouterPath` describes them; a capture (`{name}`,
    /// or `:name` as routes are written) and `*` match any one component.
    private(set) var patterns: [(components: [String], methods: [HTTPRequest.Method])] = []

    init(_ routes: [(path: String, method: HTTPRequest.Method)]) {
        for (path, method) in routes {
            let components = path.split(separator: "/").map(String.init)
            if let i = patterns.firstIndex(where: { $0.components == components }) {
                if !patterns[i].methods.contains(method) { patterns[i].methods.append(method) }
            } else {
                patterns.append((components, [method]))
            }
        }
    }

    /// The table of the TCP metrics listener.
    init(metricsRouter: Bool) {
        self.init([("/metrics", .get), ("/v1/health", .get)])
    }

    /// The methods `path` answers, in a stable order; nil when no route has that path.
    func allowedMethods(path: String) -> [HTTPRequest.Method]? {
        let parts = path.split(separator: "/").map(String.init)
        for route in patterns where route.components.count == parts.count {
            if zip(route.components, parts).allSatisfy({ $0.hasPrefix("{") || $0.hasPrefix(":") || $0 == "*" || $0 == $1 }) {
                let order: [HTTPRequest.Method] = [.get, .put, .post, .delete]
                return route.methods.sorted { (order.firstIndex(of: $0) ?? 9) < (order.firstIndex(of: $1) ?? 9) }
            }
        }
        return nil
    }
}
