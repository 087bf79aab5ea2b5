# Writes the inventory Vagrant's `ansible` provisioner writes, with Vagrant's own code (the installed gem's
# plugins/provisioners/ansible: Config::Host and Provisioner::Host#generate_inventory), for machines that are not there:
# the machines' SSH settings are given, as a provider would report them (`ssh_info`). Nothing is booted, nothing runs
# on a VM; `ansible --version` runs once, as Vagrant runs it to settle the compatibility mode.
# Usage: ruby vagrant-inventory.rb input.json, where input.json is
#   { "local_data_path": dir, "settings": { the ansible provisioner's settings, e.g. from vagrantfile-probe.rb },
#     "machines": [{ "name", "host", "port", "username", "private_key", "provider" } or { "name", "missing": true }] }
# (a missing machine is one whose provider reports no ssh_info, e.g. one removed behind Vagrant's back).
# Prints the path of the file it wrote (<local_data_path>/provisioners/ansible/inventory/vagrant_ansible_inventory).
require 'json'
require 'log4r'
require 'vagrant'
%w[config/host provisioner/host].each do |file|
  require Vagrant.source_root.join('plugins/provisioners/ansible', file).to_s
end

input = JSON.parse(File.read(ARGV.fetch(0)))

# What the provisioner asks of a machine: its name, provider, communicator and ssh_info.
Machine = Struct.new(:name, :provider_name, :ssh_info, :config, :env, :ui)
# What it asks of the environment: the machines that exist, each by name, and where Vagrant keeps its data.
class Env
  attr_reader :local_data_path, :ui

  def initialize(local_data_path, machines, ui)
    @local_data_path = Pathname.new(local_data_path)
    @machines = machines
    @ui = ui
  end

  def active_machines
    @machines.map { |m| [m.name, m.provider_name] }
  end

  def machine(name, provider)
    @machines.find { |m| m.name == name && m.provider_name == provider } || raise(Vagrant::Errors::MachineNotFound, name: name, provider: provider)
  end
end

ui = Vagrant::UI::Silent.new
vm_config = Struct.new(:vm).new(Struct.new(:communicator).new(nil))
machines = input.fetch('machines').map do |m|
  ssh_info = m['missing'] ? nil : { host: m.fetch('host'), port: m.fetch('port'), username: m.fetch('username'), private_key_path: [m.fetch('private_key')] }
  Machine.new(m.fetch('name').to_sym, (m['provider'] || 'virtualbox').to_sym, ssh_info, vm_config, nil, ui)
end
env = Env.new(input.fetch('local_data_path'), machines, ui)
machines.each { |m| m.env = env }

config = VagrantPlugins::Ansible::Config::Host.new
input.fetch('settings').each do |key, value|
  next unless %w[groups host_vars compatibility_mode force_remote_user].include?(key)

  config.public_send("#{key}=", value)
end
config.finalize!

provisioner = VagrantPlugins::Ansible::Provisioner::Host.new(machines.last, config)
provisioner.send(:set_and_check_compatibility_mode)
# generate_inventory returns the directory it wrote vagrant_ansible_inventory into.
puts File.join(provisioner.send(:generate_inventory).to_s, 'vagrant_ansible_inventory')
