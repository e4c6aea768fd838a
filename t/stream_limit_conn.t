#!/usr/bin/perl
# limit_conn in stream: at most N sessions per key at once, counted in a
# shared zone across 2 workers; the next one is closed with no byte and a
# log line at limit_conn_log_level; a closed session gives its count back;
# clients with other addresses (127.0.0.2) have their own count; a zone
# named before its declaration works; -t refuses unknown zones, bad sizes
# and bad numbers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Time::HiRes qw(sleep);
use WmTest;

my $t = WmTest->new(timeout => 60);
my $P = $t->prefix;
my ($p_lim, $p_warn, $up) = ($t->port, $t->port, $t->port);

# A backend that holds each connection open and answers "up\n" at once.
my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$up", Listen => 64,
    ReuseAddr => 1) or die "listen: $!";
my $be = fork // die;
if (!$be) {
    while (my $c = $l->accept) {
        my $k = fork // die;
        if (!$k) {
            syswrite($c, "up\n");
            while (sysread($c, my $b, 100)) { }
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}
close $l;
END { local $?; if ($be) { kill 'KILL', $be; waitpid($be, 0) } }

$t->write_conf(<<"EOF");
worker_processes 2;
events { }
stream {
    server {
        listen 127.0.0.1:$p_lim;
        limit_conn perip 3;
        proxy_pass 127.0.0.1:$up;
    }
    limit_conn_zone \$binary_remote_addr zone=perip:1m;
    limit_conn_zone \$server_port zone=perport:64k;
    server {
        listen 127.0.0.1:$p_warn;
        limit_conn perport 1;
        limit_conn_log_level warn;
        proxy_pass 127.0.0.1:$up;
    }
}
EOF
$t->start(workers => 2, ports => [$p_lim, $p_warn]) or BAIL_OUT('no start');

# open_from(PORT, SOURCE): a connection and its first line ('' if closed)
sub open_from {
    my ($port, $src) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        LocalAddr => $src // '127.0.0.1', Timeout => 5) or return;
    my $got = '';
    if (IO::Select->new($c)->can_read(5)) {
        sysread($c, $got, 100);
    }
    return ($c, $got // '');
}

my @held;
for my $i (1 .. 3) {
    my ($c, $line) = open_from($p_lim);
    is($line, "up\n", "session $i of 3 from 127.0.0.1 is proxied");
    push @held, $c;
}
my $off = $t->log_size;
my (undef, $line) = open_from($p_lim);
is($line, '', 'the 4th session from the same address is closed at once');
ok($t->wait_log(qr/\[error\] .*limiting connections by zone "perip"/,
        from => $off), 'and logged at error');
my ($other, $oline) = open_from($p_lim, '127.0.0.2');
is($oline, "up\n", 'another client address has its own count');
close $other;

close shift @held;
my $again;
ok($t->wait_until(sub {
            my ($c, $l) = open_from($p_lim);
            return 0 unless $l eq "up\n";
            $again = $c;
            1;
        }, 10), 'a closed session gives its count back');
push @held, $again if $again;

my ($w1, $l1) = open_from($p_warn);
is($l1, "up\n", 'limit 1 by $server_port: the first session');
$off = $t->log_size;
my (undef, $l2) = open_from($p_warn, '127.0.0.3');
is($l2, '', 'limit 1 by $server_port: a second one, from any address, is refused');
ok($t->wait_log(qr/\[warn\] .*limiting connections by zone "perport"/,
        from => $off), 'logged at limit_conn_log_level warn');
close $w1;
close $_ for @held;

for my $bad ('limit_conn_zone $binary_remote_addr zone=a:1k;',
    'limit_conn_zone $binary_remote_addr size=1m;',
    'limit_conn_zone $binary_remote_addr zone=a:1m; '
      . 'server { listen 127.0.0.1:1; limit_conn a 0; return x; }',
    'server { listen 127.0.0.1:1; limit_conn nosuch 1; return x; }')
{
    $t->write_file('bad.conf', "events { } stream { $bad }\n");
    my $r = $t->run('-t', '-c', "$P/bad.conf");
    isnt($r->{code}, 0, "-t fails: $bad");
    like($r->{stderr}, qr/limit_conn/, "-t says why: $bad");
}

$t->done;
