# The no-replacement case: two allocations that must sit on distinct clients, in a lab of two
# clients. When one client is partitioned, its allocation's replacement has nowhere to go (the
# scheduler leaves a blocked evaluation), so the original stays unknown until the client returns.
job "no-replacement" {
  datacenters = ["dc1"]

  group "cache" {
    count = 2

    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

# nomad-lab: if version >= 1.8
    disconnect {
      lost_after = "1h"
    }
# nomad-lab: else
    max_client_disconnect = "1h"
# nomad-lab: end

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
