#!/usr/bin/perl
# The YAML form of the configuration (wmproxy.conf(5), YAML FORM): the
# shipped conf/wmproxy.conf and conf/wmproxy.yaml are the same tree, each
# YAML shape maps to the text form it documents, and a YAML config runs,
# serves and reloads.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;

my $t   = WmTest->new(timeout => 120);
my $P   = $t->prefix;
my $src = $ENV{WM_SRCDIR} // "$FindBin::Bin/..";

sub ok_lines {
    my $f = shift;
    return "wmproxy: the configuration file $f syntax is ok\n"
      . "wmproxy: configuration file $f test is successful\n";
}

# ---- the shipped configs -------------------------------------------------------

my $rt = $t->run('-p', "$P/", '-c', "$src/conf/wmproxy.conf", '-T');
my $ry = $t->run('-p', "$P/", '-c', "$src/conf/wmproxy.yaml", '-T');
is($rt->{code}, 0, '-T conf/wmproxy.conf exits 0') or diag($rt->{stderr});
is($ry->{code}, 0, '-T conf/wmproxy.yaml exits 0') or diag($ry->{stderr});
is($rt->{stderr}, ok_lines("$src/conf/wmproxy.conf"),
    '-T conf/wmproxy.conf: syntax is ok');
is($ry->{stderr}, ok_lines("$src/conf/wmproxy.yaml"),
    '-T conf/wmproxy.yaml: syntax is ok');
like($rt->{stdout}, qr/^events \{$/m, '-T conf/wmproxy.conf prints the config');
is($ry->{stdout}, $rt->{stdout},
    'conf/wmproxy.yaml and conf/wmproxy.conf print the same -T text');

# ---- each YAML shape against its text form ----------------------------------------

my ($p1, $p2, $p3) = ($t->port, $t->port, $t->port);
my $yaml = $t->write_yaml(<<"EOF", raw => 1, name => 'shapes.yaml');
# comments are fine
daemon: off
pid: logs/wmproxy.pid
error_log:
  - [logs/error.log, debug]
  - [stderr, warn]
error_log logs/other.log: info
worker_processes: 010
user: [nobody, nogroup]
worker_shutdown_timeout: 5s
events:
  worker_connections: 64
stream:
  - server:
      listen: 127.0.0.1:$p1
      return: "one \$remote_addr\\n"
  - server:
      listen: 127.0.0.1:$p2
      proxy_pass: 127.0.0.1:$p3
  - server:
      - listen: 127.0.0.1:$p3
      - return: two
EOF
my $text = $t->write_conf(<<"EOF", raw => 1, name => 'shapes.conf');
daemon off;
pid logs/wmproxy.pid;
error_log logs/error.log debug;
error_log stderr warn;
error_log logs/other.log info;
worker_processes 010;
user nobody nogroup;
worker_shutdown_timeout 5s;
events {
    worker_connections 64;
}
stream {
    server {
        listen 127.0.0.1:$p1;
        return "one \$remote_addr\\n";
    }
    server {
        listen 127.0.0.1:$p2;
        proxy_pass 127.0.0.1:$p3;
    }
    server {
        listen 127.0.0.1:$p3;
        return two;
    }
}
EOF
$rt = $t->run('-p', "$P/", '-c', $text, '-T');
$ry = $t->run('-p', "$P/", '-c', $yaml, '-T');
is($rt->{code}, 0, 'YAML shapes: the text form passes -T') or diag($rt->{stderr});
is($ry->{code}, 0, 'YAML shapes: the YAML form passes -T') or diag($ry->{stderr});
is($ry->{stderr}, ok_lines($yaml), 'YAML shapes: syntax is ok');
is($ry->{stdout}, $rt->{stdout}, 'YAML shapes: the same -T text as the text form');

my $r;
$t->section('a YAML config runs, serves and reloads' => sub {
    ($p1, $p2) = ($t->port, $t->port);
    $yaml = $t->write_yaml(<<"EOF");
worker_processes: 2
events: {}
stream:
  server:
    listen: 127.0.0.1:$p1
    return: "yaml \$remote_addr\\n"
EOF
    $r = $t->run('-p', "$P/", '-c', $yaml, '-t');
    is($r->{code},   0,               'a YAML config passes -t');
    is($r->{stderr}, ok_lines($yaml), 'a YAML config: -t lines');
    my $mp = $t->start(workers => 2, ports => [$p1]) or return;
    is(scalar(my @w = $t->workers), 2, 'YAML worker_processes: 2 workers');
    is($t->talk($p1), "yaml 127.0.0.1\n", 'a YAML config serves, variables expanded');

    # Reload with one more server (a sequence of mappings repeats `server`).
    $t->write_yaml(<<"EOF");
worker_processes: 1
events: {}
stream:
  server:
    - listen: 127.0.0.1:$p1
      return: "yaml \$remote_addr\\n"
    - listen: 127.0.0.1:$p2
      return: "second\\n"
EOF
    $t->reload(workers => 1);
    is($t->talk($p2), "second\n", 'after a YAML reload the new server answers');
    is($t->talk($p1), "yaml 127.0.0.1\n", 'and the old one still does');

    # A broken YAML reload keeps the old workers.
    my @before = $t->workers;
    $t->write_yaml("worker_processes: 1\nevents: {}\nstream:\n  server:\n    listen: [oops\n");
    $t->expect_errors(qr/\Q$yaml\E:\d+: /);
    my $off = $t->log_size;
    $t->signal('HUP');
    ok($t->wait_log(qr/\[emerg\] $mp#0: \Q$yaml\E:\d+: /, from => $off),
        'a broken YAML reload logs [emerg] with file:line');
    sleep 1;
    is_deeply([ $t->workers ], \@before, 'a broken YAML reload keeps the old worker');
    is($t->talk($p2), "second\n", 'which still serves');

    $t->stop;
});

# .yml is YAML too.
my $yml = $t->write_yaml("events:\n  worker_connections: 32\n", name => 'x.yml');
$r = $t->run('-p', "$P/", '-c', $yml, '-T');
is($r->{code}, 0, 'a .yml file is read as YAML');
like($r->{stdout}, qr/^events \{\n    worker_connections 32;\n\}$/m,
    'a .yml file: -T prints its text form');

$t->done;
