# The control case: the seed's spread job with NO disconnect setting. A partitioned client's
# allocations go lost and are replaced at once; this is the behaviour the feature changes.
job "control" {
  datacenters = ["dc1"]

  group "cache" {
    count = 2


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
