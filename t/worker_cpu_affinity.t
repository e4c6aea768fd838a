#!/usr/bin/perl
# worker_cpu_affinity: each worker binds itself to CPUs as it starts, read
# back from /proc/PID/status (Cpus_allowed_list): `auto` gives worker n
# the n-th CPU this process may use (cyclically), `auto mask` only among
# the mask's CPUs, explicit masks one per worker (the last one for the
# workers beyond them), and a worker that is replaced gets its
# predecessor's CPU. timer_resolution and pcre_jit are accepted. -t
# refuses bad masks with file:line. Needs CPUs 0 and 1 for the masks.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 90);
my $P = $t->prefix;
my $port = $t->port;

sub allowed {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (my $l = <$fh>) {
        return $1 if $l =~ /^Cpus_allowed_list:\s*(\S+)/;
    }
    return undef;
}

# The CPUs this test may use, as a list.
my @cpus = map { /^(\d+)-(\d+)$/ ? ($1 .. $2) : $_ }
  split /,/, allowed($$) // '';
plan skip_all => 'no Cpus_allowed_list in /proc' unless @cpus;

# Starts wmproxy with the affinity; the workers' CPU lists, sorted, once
# they are @want (they bind themselves as they start) or after 10 s.
sub run_with {
    my ($workers, $affinity, @want) = @_;
    $t->write_conf(<<"EOF");
worker_processes $workers;
worker_cpu_affinity $affinity;
timer_resolution 100ms;
pcre_jit on;
events { }
http {
    server { listen 127.0.0.1:$port; return 200 ok; }
}
EOF
    $t->start(workers => $workers, ports => [$port]) or return;
    my $got = sub { [ sort map { allowed($_) // 'none' } $t->workers ] };
    $t->wait_until(sub { "@{ $got->() }" eq join ' ', sort @want }, 10);
    return $got->();
}

my $two = @cpus >= 2;
my @want = $two ? ($cpus[0], $cpus[1]) : ($cpus[0], $cpus[0]);
is_deeply(run_with(2, 'auto', @want), [ sort @want ],
    "auto: one CPU per worker (@want)");
is(WmHttpClient->new($port) ? 'up' : 'down', 'up', 'auto: serving');

# A replaced worker gets the CPU of the one it replaces.
{
    my @w = $t->workers;
    my %cpu_of = map { ($_ => allowed($_)) } @w;
    kill 'KILL', $w[0];
    $t->wait_until(sub {
        my @n = $t->workers;
        @n == 2 && !grep { $_ == $w[0] } @n;
    }, 20);
    my ($new) = grep { $_ != $w[1] } $t->workers;
    # (The new worker binds itself once it runs its start-up hooks.)
    $t->wait_until(sub { (allowed($new // 0) // '') eq $cpu_of{ $w[0] } }, 10);
    is(allowed($new // 0), $cpu_of{ $w[0] },
        'a respawned worker binds to the CPU of the one it replaces');
    $t->expect_errors(qr/exited on signal 9/);
}
$t->stop;

SKIP: {
    skip 'the masks need CPUs 0 and 1', 4
      unless $two && $cpus[0] == 0 && $cpus[1] == 1;
    is_deeply(run_with(2, '01 10', 0, 1), [ '0', '1' ], 'masks 01 10');
    $t->stop;
    is_deeply(run_with(3, '01 10', 0, 1, 1), [ '0', '1', '1' ],
        'three workers, two masks: the last mask again');
    $t->stop;
    is_deeply(run_with(2, '11', '0-1', '0-1'), [ '0-1', '0-1' ], 'mask 11: both CPUs');
    $t->stop;
    is_deeply(run_with(2, 'auto 10', 1, 1), [ '1', '1' ], 'auto 10: only CPU 1');
    $t->stop;
}

for my $bad (
    [ '012', qr/invalid mask "012"/ ],
    [ '000', qr/invalid mask "000"/ ],
    [ 'auto 01 10', qr/too many masks after "auto"/ ],
  )
{
    $t->conf_rejected("worker_cpu_affinity $bad->[0];\nevents { }\n", 4,
        $bad->[1], "worker_cpu_affinity $bad->[0]");
}
$t->conf_rejected("timer_resolution soon;\nevents { }\n", 4,
    qr/"timer_resolution" directive/, 'timer_resolution soon');
$t->conf_rejected("pcre_jit maybe;\nevents { }\n", 4,
    qr/"pcre_jit" directive/, 'pcre_jit maybe');

$t->done;
