# Loads a Vagrantfile against a stand-in for Vagrant that records every setting and call, and prints them as JSON:
# what `vagrant validate` accepts but never checks (playbook paths, groups, host vars). Usage: ruby probe.rb Vagrantfile
require 'json'

# Records `x.y = v` as settings, `x.y` as a nested recorder, and `x.call(args) { |r| }` as a call with its block's recorder.
class Recorder
  def initialize
    @settings = {}
    @calls = []
  end

  def method_missing(name, *args, **kwargs, &block)
    key = name.to_s
    return @settings[key.chomp('=')] = args.first if key.end_with?('=')
    return (@settings[key] ||= Recorder.new) if args.empty? && kwargs.empty? && block.nil?

    child = block && Recorder.new
    block&.call(child)
    @calls << { 'call' => key, 'args' => args, 'options' => kwargs.transform_keys(&:to_s), 'block' => child }
    nil
  end

  def respond_to_missing?(*)
    true
  end

  def to_json(*options)
    { 'settings' => @settings, 'calls' => @calls }.to_json(*options)
  end
end

module Vagrant
  ROOT = Recorder.new

  def self.configure(version)
    raise ArgumentError, "unexpected configuration version #{version}" unless version.to_s == '2'

    yield ROOT
  end
end

load File.expand_path(ARGV.fetch(0))
puts JSON.generate(Vagrant::ROOT)
