# The VM lab's topology in plain Ruby for the Vagrantfile: topology.yaml + NOMAD_LAB_VM_* -> hosts, VM settings, and the
# Ansible groups and host vars that Vagrant writes into its inventory (.vagrant/provisioners/ansible/inventory/
# vagrant_ansible_inventory), which is where the harness reads the VMs from. The one place the topology is computed;
# `ruby vagrant/topology.rb` prints it as JSON.
require 'json'
require 'psych'

module NomadLab
  # A bad topology file or environment variable: the Vagrantfile prints it without a backtrace.
  class TopologyError < StandardError
    attr_reader :hint

    def initialize(message, hint = nil)
      super(message)
      @hint = hint
    end
  end

  module VmTopology
    DEFAULT_FILE = File.expand_path('topology.yaml', __dir__)
    TOPOLOGY_ENV = 'NOMAD_LAB_VM_TOPOLOGY'

    DEFAULTS = {
      'subnet' => '192.168.56.0/24',
      'servers' => 1,
      'clients' => 2,
      'datacenter' => 'dc1',
      'box' => 'debian/bookworm64',
      'memory' => 1024,
      'cpus' => 1,
      'provider' => 'virtualbox',
      'nomadVersion' => '1.6.0',
      'docker' => false
    }.freeze

    # The VM-only settings are NOMAD_LAB_VM_*; the Nomad build keeps the names the harness's messages use.
    ENV_NAMES = {
      'subnet' => 'NOMAD_LAB_VM_SUBNET',
      'servers' => 'NOMAD_LAB_VM_SERVERS',
      'clients' => 'NOMAD_LAB_VM_CLIENTS',
      'datacenter' => 'NOMAD_LAB_VM_DATACENTER',
      'clientDatacenters' => 'NOMAD_LAB_VM_CLIENT_DATACENTERS',
      'box' => 'NOMAD_LAB_VM_BOX',
      'memory' => 'NOMAD_LAB_VM_MEMORY',
      'cpus' => 'NOMAD_LAB_VM_CPUS',
      'provider' => 'NOMAD_LAB_VM_PROVIDER',
      'nomadVersion' => 'NOMAD_LAB_NOMAD_VERSION',
      'nomadBinary' => 'NOMAD_BINARY',
      'docker' => 'NOMAD_LAB_VM_DOCKER'
    }.freeze

    # Names this file read before the VM-only variables got their prefix: one that is set stops the Vagrantfile,
    # rather than being ignored while the lab comes up in another shape than the user asked for.
    RENAMED_ENV = {
      'NOMAD_LAB_SUBNET' => 'NOMAD_LAB_VM_SUBNET',
      'NOMAD_LAB_SERVERS' => 'NOMAD_LAB_VM_SERVERS',
      'NOMAD_LAB_CLIENTS' => 'NOMAD_LAB_VM_CLIENTS',
      'NOMAD_LAB_DATACENTER' => 'NOMAD_LAB_VM_DATACENTER',
      'NOMAD_LAB_CLIENT_DATACENTERS' => 'NOMAD_LAB_VM_CLIENT_DATACENTERS',
      'NOMAD_LAB_BOX' => 'NOMAD_LAB_VM_BOX',
      'NOMAD_LAB_MEMORY' => 'NOMAD_LAB_VM_MEMORY',
      'NOMAD_LAB_CPUS' => 'NOMAD_LAB_VM_CPUS',
      'NOMAD_LAB_PROVIDER' => 'NOMAD_LAB_VM_PROVIDER',
      'NOMAD_LAB_DOCKER' => 'NOMAD_LAB_VM_DOCKER',
      'NOMAD_LAB_TOPOLOGY' => 'NOMAD_LAB_VM_TOPOLOGY',
      # One binary, one name: the harness's --nomad falls back to NOMAD_BINARY too.
      'NOMAD_LAB_NOMAD_BINARY' => 'NOMAD_BINARY'
    }.freeze

    # What the JSON schema (harness/config/schema/vm-topology.schema.json) allows per key, as Ruby classes;
    # ranges and patterns are checked by compute, with the same messages as the harness.
    TYPES = {
      'subnet' => ['string', [String]],
      'servers' => ['integer', [Integer]],
      'clients' => ['integer', [Integer]],
      'datacenter' => ['string', [String]],
      'clientDatacenters' => ['array', [Array]],
      'box' => ['string', [String]],
      'memory' => ['integer', [Integer]],
      'cpus' => ['integer', [Integer]],
      'provider' => ['string', [String]],
      'nomadVersion' => ['string', [String]],
      'nomadBinary' => ['string,null', [String, NilClass]],
      'docker' => ['boolean', [TrueClass, FalseClass]]
    }.freeze

    DATACENTER = /\A[A-Za-z0-9_-]{1,64}\z/
    VERSION = /\A\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?\z/
    SUBNET = %r{\A(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0/24\z}
    WHOLE = /\A\d+\z/
    BOOLEAN = {
      'true' => true, 'yes' => true, 'on' => true, '1' => true,
      'false' => false, 'no' => false, 'off' => false, '0' => false
    }.freeze
    # YAML 1.2 booleans, as the harness's parser reads them (Ruby's YAML 1.1 also takes yes/no/on/off).
    YAML_BOOLEANS = %w[true True TRUE false False FALSE].freeze

    module_function

    # The topology file: NOMAD_LAB_VM_TOPOLOGY, else vagrant/topology.yaml.
    def file(env = ENV)
      given = env[TOPOLOGY_ENV]
      given.nil? || given.empty? ? DEFAULT_FILE : given
    end

    # Refuses an old variable name that is set (non-empty), naming the new one.
    def refuse_renamed(env)
      set = RENAMED_ENV.reject { |old, _| env[old].nil? || env[old].empty? }
      return if set.empty?

      raise TopologyError.new(
        "the VM lab's environment variables were renamed: #{set.map { |old, new| "#{old} is now #{new}" }.join(', ')}",
        "unset #{set.keys.join(' ')} and set #{set.map { |old, new| "#{new}=#{env[old]}" }.join(' ')}"
      )
    end

    def load(path = nil, env = ENV)
      refuse_renamed(env)
      compute(read(path || file(env)), env)
    end

    # Reads the file; every problem is reported as `file:line: /key message`, all at once.
    def read(path)
      begin
        text = File.read(path)
      rescue SystemCallError => e
        raise TopologyError, "cannot read #{path}: #{e.message.sub(/ @ .*/, '')}"
      end
      begin
        doc = Psych.parse(text, filename: path)
        data = Psych.safe_load(text, filename: path)
      rescue Psych::Exception => e
        raise TopologyError, "#{path}:#{e.respond_to?(:line) ? e.line : 1}: #{e.message.sub(/\A\(.*?\): /, '')}"
      end
      root = doc && doc.root
      raise TopologyError, "#{path}:#{root ? root.start_line + 1 : 1}: / must be object" unless data.is_a?(Hash)

      problems = []
      root.children.each_slice(2) do |key_node, value_node|
        key = key_node.value
        line = key_node.start_line + 1
        unless TYPES.key?(key)
          problems << "#{path}:#{line}: /#{key} is not a known property"
          next
        end
        name, classes = TYPES[key]
        value = data[key]
        ok = classes.any? { |c| value.is_a?(c) }
        ok &&= YAML_BOOLEANS.include?(value_node.value) if name == 'boolean'
        ok &&= value.all? { |v| v.is_a?(String) } if name == 'array'
        problems << "#{path}:#{line}: /#{key} must be #{name == 'array' ? 'an array of strings' : name}" unless ok
      end
      raise TopologyError, problems.join("\n") unless problems.empty?

      data
    end

    # File data + environment -> the computed topology (a Hash that serialises to the harness's VmTopology).
    def compute(data, env = {})
      refuse_renamed(env)
      from_env = lambda do |key|
        v = env[ENV_NAMES.fetch(key)]
        v.nil? || v.empty? ? nil : v
      end
      source = ->(key) { from_env.call(key).nil? ? 'the topology file' : ENV_NAMES.fetch(key) }
      bad = lambda do |key, expected, got, hint = nil|
        raise TopologyError.new(
          "#{key} must be #{expected}, got #{JSON.generate(got)} (from #{source.call(key)})",
          hint || "fix or unset #{ENV_NAMES.fetch(key)}, or edit the topology file"
        )
      end
      whole = lambda do |key, min, max|
        raw = from_env.call(key)
        value = if raw.nil?
                  data[key].nil? ? DEFAULTS.fetch(key) : data[key]
                else
                  raw.match?(WHOLE) ? raw.to_i : raw
                end
        unless value.is_a?(Integer) && value >= min && value <= max
          bad.call(key, "a whole number from #{min} to #{max}", raw.nil? ? value : raw)
        end
        value
      end
      # nil and '' mean "not set": the default applies.
      text = lambda do |key, fallback|
        raw = from_env.call(key)
        value = raw || (data[key].nil? ? fallback : data[key])
        bad.call(key, 'a string', value) unless value.nil? || value.is_a?(String)
        value == '' ? fallback : value
      end

      subnet = text.call('subnet', DEFAULTS['subnet'])
      match = SUBNET.match(subnet)
      octets = match && match.captures.map(&:to_i)
      if octets.nil? || octets.any? { |o| o > 255 }
        bad.call('subnet', 'a /24 written a.b.c.0/24', subnet,
                 'the VirtualBox default range is 192.168.56.0/21, e.g. 192.168.56.0/24')
      end
      servers = whole.call('servers', 1, 9)
      clients = whole.call('clients', 1, 200)
      datacenter = text.call('datacenter', DEFAULTS['datacenter'])
      bad.call('datacenter', 'a datacenter name (letters, digits, "-" and "_")', datacenter) unless datacenter.match?(DATACENTER)
      dc_raw = from_env.call('clientDatacenters')
      client_dcs = dc_raw.nil? ? (data['clientDatacenters'] || []) : dc_raw.split(',', -1).map(&:strip)
      bad.call('clientDatacenters', 'a list of datacenter names', client_dcs) unless client_dcs.is_a?(Array)
      client_dcs.each do |dc|
        unless dc.is_a?(String) && dc.match?(DATACENTER)
          bad.call('clientDatacenters', 'datacenter names (letters, digits, "-" and "_"), one per client', dc)
        end
      end
      if client_dcs.length > clients
        bad.call('clientDatacenters', "at most #{clients} datacenter name(s), one per client", client_dcs,
                 'give the datacenters in client order, client1 first; unlisted clients use datacenter')
      end
      box = text.call('box', DEFAULTS['box'])
      memory = whole.call('memory', 512, 65_536)
      cpus = whole.call('cpus', 1, 64)
      provider = text.call('provider', DEFAULTS['provider'])
      bad.call('provider', 'virtualbox or libvirt', provider) unless %w[virtualbox libvirt].include?(provider)
      nomad_version = text.call('nomadVersion', DEFAULTS['nomadVersion'])
      bad.call('nomadVersion', 'a version x.y.z', nomad_version) unless nomad_version.match?(VERSION)
      nomad_binary = text.call('nomadBinary', nil)
      unless nomad_binary.nil? || nomad_binary.start_with?('/')
        bad.call('nomadBinary', 'an absolute path', nomad_binary, 'e.g. NOMAD_BINARY=$PWD/bin/nomad')
      end
      docker_raw = from_env.call('docker')
      docker = if docker_raw.nil?
                 data['docker'].nil? ? DEFAULTS['docker'] : data['docker']
               else
                 BOOLEAN.fetch(docker_raw.downcase, docker_raw)
               end
      bad.call('docker', 'true or false', docker) unless [true, false].include?(docker)

      at = ->(last) { "#{octets[0]}.#{octets[1]}.#{octets[2]}.#{last}" }
      # As in the seed's Vagrant lab (server 192.168.56.11): servers at .11 upward, clients at .21 upward.
      hosts = (1..servers).map do |i|
        { 'name' => "server#{i}", 'role' => 'server', 'index' => i, 'ip' => at.call(10 + i), 'datacenter' => datacenter }
      end
      hosts += (1..clients).map do |i|
        { 'name' => "client#{i}", 'role' => 'client', 'index' => i, 'ip' => at.call(20 + i),
          'datacenter' => client_dcs[i - 1] || datacenter }
      end
      names = ->(role) { hosts.select { |h| h['role'] == role }.map { |h| h['name'] } }
      extra_vars = {
        'nomad_service_manager' => 'systemd',
        'nomad_version' => nomad_version,
        'nomad_server_addrs' => hosts.select { |h| h['role'] == 'server' }.map { |h| h['ip'] },
        'nomad_docker_enabled' => docker
      }
      extra_vars['nomad_binary_src'] = nomad_binary unless nomad_binary.nil?

      topology = {
        'subnet' => subnet,
        'datacenter' => datacenter,
        'hosts' => hosts,
        'box' => box,
        'memory' => memory,
        'cpus' => cpus,
        'provider' => provider,
        'nomadVersion' => nomad_version
      }
      topology['nomadBinary'] = nomad_binary unless nomad_binary.nil?
      topology.merge(
        'docker' => docker,
        'ansible' => {
          'groups' => {
            'servers' => names.call('server'),
            'clients' => names.call('client'),
            'all:vars' => { 'nomad_service_manager' => 'systemd' }
          },
          'hostVars' => hosts.to_h { |h| [h['name'], { 'nomad_bind_addr' => h['ip'], 'nomad_datacenter' => h['datacenter'] }] },
          'extraVars' => extra_vars
        }
      )
    end
  end
end

# Dev hook: `ruby vagrant/topology.rb` prints the topology the Vagrantfile would use, as JSON (exit 2 on a bad input).
if $PROGRAM_NAME == __FILE__
  begin
    puts JSON.pretty_generate(NomadLab::VmTopology.load)
  rescue NomadLab::TopologyError => e
    warn e.message
    warn "  fix: #{e.hint}" if e.hint
    exit 2
  end
end
