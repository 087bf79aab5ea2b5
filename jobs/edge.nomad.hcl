# The edge tutorial's application shape (seeds/edge-tutorial-disconnected-clients.txt) on raw_exec:
# a backend on-prem (dc1) and a frontend at the edge (dc2), both registered in Nomad's own service
# discovery; the frontend finds the backend through a template with nomadService. Each task really
# serves HTTP (Python's http.server) on the port Nomad gives it. One job with two groups here (the
# tutorial has several jobs): the recorder follows one job per run.
job "edge" {
  datacenters = ["dc1", "dc2"]

  group "backend" {
    count = 1

    constraint {
      attribute = "${node.datacenter}"
      value     = "dc1"
    }

    network {
      port "http" {}
    }

    service {
      name     = "edge-backend"
      provider = "nomad"
      port     = "http"
    }

    task "api" {
      driver = "raw_exec"

      template {
        data        = "edge backend {{ env \"NOMAD_ALLOC_ID\" }}\n"
        destination = "local/www/index.html"
      }

      config {
        command = "/usr/bin/python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "${NOMAD_IP_http}", "--directory", "${NOMAD_TASK_DIR}/www"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }

  group "frontend" {
    count = 1

    constraint {
      attribute = "${node.datacenter}"
      value     = "dc2"
    }

    # The setting under test: the edge client may be cut off for up to an hour.
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

    network {
      port "http" {}
    }

    service {
      name     = "edge-frontend"
      provider = "nomad"
      port     = "http"
    }

    task "web" {
      driver = "raw_exec"

      # Where the backend is, from Nomad's service catalogue. noop: a backend that moves does not
      # restart the frontend (as in the tutorial).
      template {
        data        = <<EOT
edge frontend {{ env "NOMAD_ALLOC_ID" }}
{{ range nomadService "edge-backend" }}backend at {{ .Address }}:{{ .Port }}
{{ end }}
EOT
        destination = "local/www/index.html"
        change_mode = "noop"
      }

      config {
        command = "/usr/bin/python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "${NOMAD_IP_http}", "--directory", "${NOMAD_TASK_DIR}/www"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
