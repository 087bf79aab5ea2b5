# The mass disconnect's job (scenarios/mass-disconnect.yaml): 50 allocations, one per client of a
# 50-client lab, so cutting 25 clients off at once leaves 25 allocations unknown at the same time.
# The spread job (jobs/spread.nomad.hcl) scaled up: the spread over node names places one allocation
# per client (not distinct_hosts, which would forbid the replacements on the 25 clients still
# connected), and the disconnect setting keeps the cut-off allocations unknown, never lost.
job "mass" {
  datacenters = ["dc1"]

  # All 50 at once, and healthy 5 s after they start: the deployment the first fault waits for
  # settles in seconds, not in 50 rounds of the default max_parallel = 1.
  update {
    max_parallel     = 50
    min_healthy_time = "5s"
    healthy_deadline = "2m"
  }

  group "cache" {
    count = 50

    # One hour: far longer than the cut (about a minute), so no allocation may go lost.
# nomad-lab: if version >= 1.8
    disconnect {
      lost_after = "1h"
    }
# nomad-lab: else
    max_client_disconnect = "1h"
# nomad-lab: end

    spread {
      attribute = "${node.unique.name}"
    }

    # Explicit, so the replacements' timing does not depend on version defaults (30s exponential).
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

      # Small: 75 allocations (50 and 25 replacements) on a 2-core machine.
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
