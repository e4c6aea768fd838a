#!/usr/bin/perl
# A reload while 20 proxied TCP connections stay open: the old worker
# keeps serving them (each still echoes 256 KB after the reload, through
# the upstream of the old config), new connections go to the new worker
# and the new config's upstream, and the old worker exits once the last
# old connection closes.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use IO::Select;
use Test::More;
use Time::HiRes qw(sleep time);
use WmTcp qw(backend pattern xfer connect_to);
use WmTest;

my $t = WmTest->new(timeout => 300);
my $port = $t->port;
my ($u1, $u2) = ($t->port, $t->port);

# echo servers; the second one says so first
for my $b ([ $u1, '' ], [ $u2, "v2\n" ]) {
    my ($p, $hello) = @$b;
    backend($p, sub {
        my $c = shift;
        syswrite($c, $hello) if length $hello;
        while (my $n = sysread($c, my $buf, 65536)) {
            my $off = 0;
            while ($off < $n) {
                my $w = syswrite($c, $buf, $n - $off, $off) // last;
                $off += $w;
            }
        }
        close $c;
    });
}

sub conf {
    my $up = shift;
    return <<"EOF";
worker_processes 1;
events { }
stream {
    server { listen 127.0.0.1:$port; proxy_pass 127.0.0.1:$up; }
}
EOF
}

# Sends $msg on $c and reads as many bytes back (and the length of
# $greeting more): what came back.
sub echo {
    my ($c, $msg, $greeting) = @_;
    my $want = length($msg) + length($greeting // '');
    syswrite($c, $msg) // return "write: $!";
    my $got = '';
    my $sel = IO::Select->new($c);
    while (length $got < $want && $sel->can_read(10)) {
        last unless sysread($c, $got, $want - length $got, length $got);
    }
    return $got;
}

# Worker pids that accepted a session in the log since $off.
sub acceptors {
    my $off = shift;
    my %pid = map { $_ => 1 } $t->log_since($off)
      =~ /\[debug\] (\d+)#0: stream session \d+ accepted/g;
    return join ' ', sort keys %pid;
}

$t->write_conf(conf($u1));
$t->start(workers => 1) or BAIL_OUT('no start');
my ($old) = $t->workers;

my $off = $t->log_size;
my @c = map { connect_to($port) } 1 .. 20;
my $bad = grep { echo($c[$_], "hello $_\n") ne "hello $_\n" } 0 .. $#c;
is($bad, 0, '20 connections open and echoing');
is(acceptors($off), $old, 'all 20 on the first worker');

$t->write_conf(conf($u2));
$off = $t->log_size;
my ($new) = $t->reload(workers => 1, keep_old => 1);
ok($t->wait_log(qr/ $old#0: gracefully shutting down$/m, from => $off),
    'the old worker stops accepting');
ok($t->alive($old), 'the old worker stays for its 20 connections');

my $data = pattern(256 * 1024, 3);
my $sum = sha256_hex($data);
$bad = '';
for my $i (0 .. $#c) {
    my $r = xfer($c[$i], $data, want => length $data, timeout => 60);
    $bad ||= "connection $i: $r->{n} bytes" . ($r->{err} ? " ($r->{err})" : '')
      unless $r->{n} == length $data && $r->{sha} eq $sum;
}
is($bad, '', 'after the reload each of the 20 still echoes 256 KB intact');
is(echo($c[5], "old\n"), "old\n",
    'through the old config\'s upstream (no "v2" greeting)');

$off = $t->log_size;
my @n = map { connect_to($port) } 1 .. 5;
my $nbad = grep { echo($n[$_], "new $_\n", "v2\n") ne "v2\nnew $_\n" } 0 .. $#n;
is($nbad, 0, 'new connections go to the new config\'s upstream');
is(acceptors($off), $new, 'new connections are accepted by the new worker');
close $_ for @n;

close $_ for @c[0 .. 18];
sleep 0.5;
ok($t->alive($old), 'the old worker waits for its last connection');
is(echo($c[19], "last\n"), "last\n", 'which still echoes');
close $c[19];
ok($t->wait_gone($old, timeout => 15),
    'the old worker exits once its last connection is closed');
is(join(' ', $t->workers), $new, 'the new worker is the only one');
$t->done;
