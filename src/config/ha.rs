//! `[ha]`: replicated mode on NATS JetStream (SPEC §12).

use serde::Deserialize;

/// Whether this node shares its decision log with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HaMode {
    /// One node, its own WAL: the default.
    #[default]
    Standalone,
    /// Two or more nodes, one decision log on a JetStream stream, one leader at a time.
    Replicated,
}

/// Shortest and longest `ha.lease_ms`. Below 200 ms a renewal round trip and a scheduling
/// hiccup take a real share of the lease; above a minute a dead leader stops trading too long.
pub const LEASE_MS_MIN: u64 = 200;
pub const LEASE_MS_MAX: u64 = 60_000;

/// `[ha]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HaConfig {
    /// `"standalone"` (default) or `"replicated"`.
    pub mode: HaMode,
    /// This node's name in the lease; unique per node. Default: the host name.
    pub node_id: Option<String>,
    /// Where routers reach this node's order listener, sent by followers in
    /// `x-omnigate-leader`. Default `http://<server.listen>`.
    pub advertise_url: Option<String>,
    /// The NATS server (or cluster seed). Default `nats://127.0.0.1:4222`.
    pub nats_url: String,
    /// The stream of the decision log; the lease bucket is `<stream>_LEASE`, the snapshots'
    /// object store `<stream>_SNAPSHOTS`. Default `OMNIGATE`.
    pub stream: String,
    /// The leader's lease, in milliseconds. Default 1000.
    pub lease_ms: u64,
    /// Copies NATS keeps of the stream, bucket and store when omnigate creates them (3 in
    /// production, on a three-node NATS cluster). Default 1. An existing stream is used as is.
    pub replicas: usize,
}

impl Default for HaConfig {
    fn default() -> Self {
        Self {
            mode: HaMode::Standalone,
            node_id: None,
            advertise_url: None,
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            stream: "OMNIGATE".to_owned(),
            lease_ms: 1000,
            replicas: 1,
        }
    }
}

impl HaConfig {
    pub fn replicated(&self) -> bool {
        self.mode == HaMode::Replicated
    }

    /// `upstream_set`: whether `upstream.url` is set (every node must reach the same
    /// DriveWealth: an in-process simulator per node would not be one upstream).
    pub(super) fn problems(&self, upstream_set: bool, problem: &mut impl FnMut(&str, String)) {
        if self.replicated() && !upstream_set {
            problem(
                "ha.mode",
                "\"replicated\" needs upstream.url: every node must send to the same DriveWealth"
                    .to_owned(),
            );
        }
        if !(LEASE_MS_MIN..=LEASE_MS_MAX).contains(&self.lease_ms) {
            problem(
                "ha.lease_ms",
                format!(
                    "{} is outside {LEASE_MS_MIN}..={LEASE_MS_MAX}",
                    self.lease_ms
                ),
            );
        }
        // JetStream names: no dots, spaces, wildcards or path separators.
        let name_ok = |name: &str| {
            !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !name_ok(&self.stream) {
            problem(
                "ha.stream",
                "must be 1 to 64 letters, digits, '_' or '-'".to_owned(),
            );
        }
        if let Some(id) = &self.node_id {
            if !name_ok(id) {
                problem(
                    "ha.node_id",
                    "must be 1 to 64 letters, digits, '_' or '-'".to_owned(),
                );
            }
        }
        if !(self.nats_url.starts_with("nats://") || self.nats_url.starts_with("tls://")) {
            problem(
                "ha.nats_url",
                "must start with nats:// or tls://".to_owned(),
            );
        }
        if let Some(url) = &self.advertise_url {
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.bytes().any(|b| !b.is_ascii_graphic())
            {
                problem(
                    "ha.advertise_url",
                    "must be an http:// or https:// URL without spaces".to_owned(),
                );
            }
        }
        if !(1..=5).contains(&self.replicas) {
            problem("ha.replicas", format!("{} is outside 1..=5", self.replicas));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, HaMode};

    #[test]
    fn standalone_is_the_default_and_replicated_reads_every_key() {
        let config = Config::parse("", "f.toml").unwrap();
        assert_eq!(config.ha.mode, HaMode::Standalone);
        let config = Config::parse(
            "[upstream]\nurl = \"https://dw.example\"\n[ha]\nmode = \"replicated\"\nnode_id = \"gw-1\"\nadvertise_url = \
             \"http://10.0.0.5:8080\"\nnats_url = \"nats://10.0.0.9:4222\"\nstream = \"ORDERS\"\n\
             lease_ms = 2500\nreplicas = 3\n",
            "f.toml",
        )
        .unwrap();
        assert!(config.ha.replicated());
        assert_eq!(config.ha.node_id.as_deref(), Some("gw-1"));
        assert_eq!(config.ha.lease_ms, 2500);
        assert_eq!(config.ha.replicas, 3);
    }

    #[test]
    fn every_bad_key_is_named() {
        let error = Config::parse(
            "[ha]\nmode = \"replicated\"\nnode_id = \"a b\"\nadvertise_url = \"ftp://x\"\n\
             nats_url = \"http://x\"\nstream = \"A.B\"\nlease_ms = 50\nreplicas = 9\n",
            "f.toml",
        )
        .unwrap_err();
        let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "ha.lease_ms",
            "ha.stream",
            "ha.node_id",
            "ha.nats_url",
            "ha.advertise_url",
            "ha.replicas",
        ] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        let mode = Config::parse("[ha]\nmode = \"active\"\n", "f.toml").unwrap_err();
        // A value of the wrong kind is named by its line, as everywhere in the file.
        let message = mode.to_string();
        assert!(message.contains("line 2"), "{message}");
        assert!(
            message.contains("`standalone` or `replicated`"),
            "{message}"
        );
    }
}
