# The expired case: the seed's spread job with a short disconnect window, so a long partition
# outlasts it and the unknown allocation becomes lost.
job "expired" {
  datacenters = ["dc1"]

  group "cache" {
    count = 2

    # The setting under test: how long the servers wait for a disconnected client.
# nomad-lab: if version >= 1.8
    disconnect {
      lost_after = "20s"
    }
# nomad-lab: else
    max_client_disconnect = "20s"
# nomad-lab: end

    # The seed's spread block. The lab's clients share one datacenter, so it does not separate them
    # by itself; the second block makes "allocs on different clients" (a precondition) dependable.
    # Not distinct_hosts: it would forbid the replacement on the surviving client.
    spread {
      attribute = "${node.datacenter}"
    }
    spread {
      attribute = "${node.unique.name}"
    }

    # Explicit, so the replacement's timing does not depend on version defaults (30s exponential).
    reschedule {
      delay          = "5s"
      delay_function = "constant"
      unlimited      = true
    }

    task "redis" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["86400"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
