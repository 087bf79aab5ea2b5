# Checks the Vagrantfile's VirtualBox settings with Vagrant's own VirtualBox config class, which ships inside Vagrant:
# `vagrant validate --ignore-provider` skips provider blocks, and a plain `vagrant validate` needs a usable provider
# (VirtualBox installed), which a test machine does not have. The libvirt block cannot be checked this way: its config
# class lives in the vagrant-libvirt plugin. Prints JSON: { "virtualbox": { "errors": [...], "customize": [modifyvm argv...], "linked_clone": .. } }.
# Usage: ruby vagrant-provider-config.rb Vagrantfile
require 'json'
require 'vagrant'
require Vagrant.source_root.join('plugins/providers/virtualbox/config').to_s

# Loading the Vagrantfile under real Vagrant defines TOPOLOGY and PROVIDERS; Vagrant.configure only stores its block.
load ARGV.fetch(0)
config = VagrantPlugins::ProviderVirtualBox::Config.new
PROVIDERS.fetch('virtualbox').call(config)
config.finalize!
puts({ 'virtualbox' => { 'errors' => config._detected_errors, 'customize' => config.customizations.map { |(_event, command)| command.map(&:to_s) }, 'linked_clone' => config.linked_clone } }.to_json)
