#!/usr/bin/perl
# The stream access log and error_log: exact lines for a proxied session
# (addresses, bytes each way, status, protocol, $termination), a refused
# upstream (502, upstream_error) with its error line in the server's own
# error_log only, escape=json, inheritance from the stream block, access_log
# off, a buffered log written when the worker exits, and -t errors.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($p1, $p2, $p3, $p4, $pb, $pdead) = map { $t->port } 1 .. 6;

my $backend = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$pb",
    Listen => 16, ReuseAddr => 1) or die "listen $pb: $!";

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream {
    log_format basic '\$remote_addr \$upstream_addr \$bytes_sent '
                     '\$bytes_received \$session_time \$status \$protocol '
                     '\$termination';
    log_format j escape=json '{"c":"\$remote_addr","u":"\$upstream_addr",'
                             '"t":"\$termination"}';
    access_log logs/stream.log basic;

    server { listen 127.0.0.1:$p1; proxy_pass 127.0.0.1:$pb; }
    server {
        listen 127.0.0.1:$p2;
        proxy_pass 127.0.0.1:$pdead;
        access_log logs/s2.log basic;
        access_log logs/s2j.log j;
        error_log logs/s2_error.log info;
    }
    server { listen 127.0.0.1:$p3; return "hi\\n"; access_log off; }
    server {
        listen 127.0.0.1:$p4;
        return "x\\n";
        access_log logs/buf.log basic buffer=4k;
    }
}
EOF

# No port probes: a probe of $p1 would be a session to the backend.
$t->start(workers => 1) or do { $t->done; exit };

sub lines { [ split /\n/, $t->log_text("logs/$_[0]") ] }

sub wait_lines {
    my ($rel, $n) = @_;
    $t->wait_until(sub { @{ lines($rel) } >= $n }, 10);
    return lines($rel);
}

# ---- a proxied session -----------------------------------------------------------

{
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p1", Timeout => 5)
      or die "connect $p1: $!";
    syswrite $c, 'hello';
    my $u = $backend->accept or die "accept: $!";
    my $got = '';
    while (length $got < 5) {
        my $r = sysread($u, $got, 5 - length $got, length $got) or last;
    }
    is($got, 'hello', 'the backend gets the client\'s bytes');
    syswrite $u, 'world!';
    close $u;
    my $reply = do { local $/; <$c> };    # until EOF (the test's alarm bounds it)
    is($reply, 'world!', 'the client gets the backend\'s bytes');
    close $c;
}
my $l = wait_lines('stream.log', 1);
like($l->[0] // '',
    qr{^127\.0\.0\.1 127\.0\.0\.1:$pb 6 5 \d+\.\d{3} 200 TCP done$},
    'stream.log: addresses, bytes each way, time, status, protocol, cause');

# ---- a refused upstream --------------------------------------------------------------

is($t->talk($p2, 'x'), '', 'refused upstream: the client gets nothing');
$l = wait_lines('s2.log', 1);
like($l->[0] // '',
    qr{^127\.0\.0\.1 127\.0\.0\.1:$pdead 0 0 \d+\.\d{3} 502 TCP upstream_error$},
    's2.log: 502 and upstream_error');
is(wait_lines('s2j.log', 1)->[0],
    qq{{"c":"127.0.0.1","u":"127.0.0.1:$pdead","t":"upstream_error"}},
    's2j.log: the json line');
ok($t->wait_log(qr{\[error\] \d+#0: connect\(\) failed \(111: Connection refused\).*client: 127\.0\.0\.1},
        file => 'logs/s2_error.log'),
    's2_error.log has the connect() error with its context');
unlike($t->log_text, qr/Connection refused/,
    'the main error log does not');

# ---- off, and the buffered log --------------------------------------------------------

is($t->talk($p3), "hi\n", 'return: answered');
is($t->talk($p4), "x\n", 'buffered server: answered');
sleep 0.5;
is(scalar @{ lines('stream.log') }, 1,
    'access_log off: nothing from that server in the inherited log');
is($t->log_size('logs/buf.log'), 0, 'buf.log: the line waits in the buffer');
$t->stop;
like(lines('buf.log')->[0] // '',
    qr{^127\.0\.0\.1 - 2 0 \d+\.\d{3} 200 TCP done$},
    'buf.log: written when the worker exits');

# ---- -t errors ------------------------------------------------------------------------

for my $b (
    [ 'access_log logs/x.log;', 'has no log format name' ],
    [ 'access_log logs/x.log nosuch;', 'uses unknown log format "nosuch"' ],
    [ 'log_format f $nosuch;', 'uses unknown "nosuch" variable' ],
    [ 'error_log logs/e.log loud;', 'has invalid level "loud"' ],
  )
{
    my ($dir, $msg) = @$b;
    my ($name) = $dir =~ /^(\w+)/;
    my $conf = $t->write_conf(<<"EOF", name => 'bad.conf');
events { }
stream {
    $dir
    server { listen 127.0.0.1:$p1; return x; }
}
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    isnt($r->{code}, 0, "-t fails: $dir");
    like($r->{stderr}, qr/\Q$conf\E:6: "$name" directive \Q$msg\E/,
        "-t says: $msg") or diag($r->{stderr});
}

close $backend;
$t->done;
