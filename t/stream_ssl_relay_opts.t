#!/usr/bin/perl
# The TLS relay (a `listen ... ssl` client side or `proxy_ssl on` upstream
# side) honours the options of the plain relay: proxy_download_rate and
# proxy_upload_rate (1 MB at 256 KiB/s never runs ahead of the rate and
# arrives intact, through listen ssl and through proxy_ssl on),
# proxy_half_close on with TLS on both sides (the client's close_notify
# reaches the TLS backend as close_notify + FIN while the backend's 5 MB
# still come back; the upstream's end first leaves the TLS client able to
# send), and $termination in the access log (client_closed,
# upstream_closed, client_reset, upstream_reset, idle_timeout). Only
# lower bounds on time are asserted.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use IO::Select;
use IO::Socket::INET;
use Socket qw(SHUT_WR);
use Test::More;
use Time::HiRes qw(sleep time);
use WmCerts qw(ca cert have_tools);
use WmTcp qw(backend pattern xfer connect_to writeall drain log_line
  reset_close);
use WmTest;

my $why = have_tools();
plan skip_all => $why if $why;

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my $C = "$P/certs";
mkdir $C or die "mkdir $C: $!";
my $MB = 1024 * 1024;
my $RATE = 256 * 1024;
my $LEN = $MB;
my $DATA = pattern($LEN, 21);
my $HC_DOWN = pattern(5 * $MB, 9);
my $HC_UP = pattern(5 * $MB, 5);

ca($C, 'ca', 'relay test CA');
cert($C, 'front', 'front.test', by => 'ca');
cert($C, 'backend', 'backend.test', by => 'ca');
my %tls = (SSL_cert_file => "$C/backend.crt",
    SSL_key_file => "$C/backend.key");

# ---- backends -------------------------------------------------------------------

# reads until the end; "count sha256 time-of-end" into NAME.out
sub sink_to {
    my ($name, $c) = @_;
    my $r = drain($c);
    open my $f, '>', "$P/$name.tmp";
    printf $f "%d %s %.3f\n", $r->{n}, $r->{sha}, time;
    close $f;
    rename "$P/$name.tmp", "$P/$name.out";
}

my %u = map { $_ => $t->port }
  qw(dl sink tls_dl tls_sink tls_hc fin echo reset);

backend($u{dl}, sub { writeall($_[0], $DATA); close $_[0] });
backend($u{sink}, sub { sink_to('sink', $_[0]); close $_[0] });
backend($u{tls_dl}, sub { writeall($_[0], $DATA); $_[0]->close },
    tls => \%tls);
backend($u{tls_sink}, sub { sink_to('tls_sink', $_[0]); $_[0]->close },
    tls => \%tls);
# reads the client's bytes until close_notify, then answers with their
# count and sha256 and 5 MB, and closes
backend($u{tls_hc}, sub {
    my $c = shift;
    my $r = drain($c);
    writeall($c, "$r->{n} $r->{sha}\n" . $HC_DOWN);
    $c->close;
}, tls => \%tls);
# says hello and shuts its write side first, then reads until EOF
backend($u{fin}, sub {
    my $c = shift;
    syswrite($c, "hello\n");
    shutdown($c, SHUT_WR);
    my $r = drain($c);
    open my $f, '>', "$P/fin.out";
    print $f "$r->{n} $r->{sha}\n";
    close $f;
    close $c;
});
backend($u{echo}, sub {
    my $c = shift;
    while (sysread($c, my $b, 65536)) { writeall($c, $b) or last }
    close $c;
});
# answers one line and resets the connection
backend($u{reset}, sub {
    my $c = shift;
    sysread($c, my $b, 100);
    syswrite($c, "bye\n");
    sleep 0.3;
    reset_close($c);
});

# name => [client side TLS, upstream, what else]
my $pssl = "proxy_ssl on; proxy_ssl_verify on; "
  . "proxy_ssl_trusted_certificate $C/ca.crt; proxy_ssl_name backend.test;";
my %srv = (
    dl_ssl  => [ 1, $u{dl},       'proxy_download_rate 256k;' ],
    ul_ssl  => [ 1, $u{sink},     'proxy_upload_rate 256k;' ],
    dl_pssl => [ 0, $u{tls_dl},   "$pssl proxy_download_rate 256k;" ],
    ul_pssl => [ 0, $u{tls_sink}, "$pssl proxy_upload_rate 256k;" ],
    hc      => [ 1, $u{tls_hc},   "$pssl proxy_half_close on;" ],
    hc_fin  => [ 1, $u{fin},      'proxy_half_close on;' ],
    echo    => [ 1, $u{echo},     '' ],
    reset   => [ 1, $u{reset},    '' ],
    idle    => [ 1, $u{echo},     'proxy_timeout 1s;' ],
);
my %port = map { $_ => $t->port } sort keys %srv;
my @conf = ('worker_processes 1;', 'events { }', 'stream {',
    "log_format t '\$server_port \$bytes_received \$bytes_sent \$termination';",
    'access_log logs/stream.log t;');
for my $name (sort keys %srv) {
    my ($ssl, $up, $more) = @{ $srv{$name} };
    push @conf, "server { listen 127.0.0.1:$port{$name}"
      . ($ssl ? " ssl; ssl_certificate $C/front.crt; "
          . "ssl_certificate_key $C/front.key;" : ';')
      . " proxy_pass 127.0.0.1:$up; $more }";
}
$t->write_conf(join("\n", @conf, '}', ''));
# No port probes: each would be a logged session.
$t->start(workers => 1) or BAIL_OUT('no start');

sub tls_client {
    my $port = shift;
    my $c = IO::Socket::SSL->new(PeerAddr => "127.0.0.1:$port",
        SSL_ca_file => "$C/ca.crt", SSL_hostname => 'front.test',
        SSL_verifycn_name => 'front.test', SSL_verifycn_scheme => 'default',
        Timeout => 10);
    return $c || die "tls: $IO::Socket::SSL::SSL_ERROR";
}

# the access log line of the session on the port of name
sub logged {
    my ($name, $more) = @_;
    my $re = "^$port{$name} " . ($more // '');
    return log_line($t, 'logs/stream.log', qr/$re/);
}

sub read_out {
    my $name = shift;
    my $out = '';
    $t->wait_until(sub {
            open my $f, '<', "$P/$name.out" or return 0;
            $out = <$f> // '';
        }, 30);
    return $out;
}

# ---- rates --------------------------------------------------------------------

# Reads 1 MB from c as fast as it can; [bytes, sha256, seconds, ahead].
sub timed_download {
    my $c = shift;
    my $t0 = time;
    my $ahead = '';
    # at most one second's worth ahead of the rate, plus one read
    my $r = drain($c, sub {
            my $el = time - $t0;
            $ahead ||= "$_[0] bytes after ${el}s"
              if $_[0] > $RATE * ($el + 1) + 65536;
        });
    return ($r->{n}, $r->{sha}, time - $t0, $ahead);
}

for my $case ([ 'listen ssl', 'dl_ssl', 1 ], [ 'proxy_ssl', 'dl_pssl', 0 ]) {
    my ($name, $key, $tls) = @$case;
    my $c = $tls ? tls_client($port{$key}) : connect_to($port{$key});
    my ($n, $sha, $el, $ahead) = timed_download($c);
    close $c;
    is($n, $LEN, "$name: download at 256k/s: every byte");
    is($sha, sha256_hex($DATA), "$name: download: intact (sha256)");
    cmp_ok($el, '>=', 0.9 * ($LEN / $RATE - 1),
        "$name: download: 1 MB at 256k/s takes about 3 s at least");
    is($ahead, '', "$name: download: never ahead of the rate");
    is(logged($key), "$port{$key} 0 $LEN upstream_closed",
        "$name: download: logged as ended by the upstream");
}

{
    # upload through listen ssl: the TLS client writes 1 MB, then
    # close_notify; the sink times the end of its read
    my $c = tls_client($port{ul_ssl});
    my $t0 = time;
    ok(writeall($c, $DATA), 'listen ssl: upload: the client wrote 1 MB');
    $c->stop_SSL(SSL_fast_shutdown => 1);
    shutdown($c, SHUT_WR);
    my ($got, $gsha, $at) = split ' ', read_out('sink');
    is($got // 0, $LEN, 'listen ssl: upload: the backend got every byte');
    is($gsha // '', sha256_hex($DATA), 'listen ssl: upload: intact');
    cmp_ok(($at // 0) - $t0, '>=', 0.9 * ($LEN / $RATE - 1),
        'listen ssl: upload: 1 MB at 256k/s takes about 3 s at least');
    1 while sysread($c, my $junk, 65536);
    close $c;
    is(logged('ul_ssl'), "$port{ul_ssl} $LEN 0 client_closed",
        'listen ssl: upload: logged as ended by the client');

    # upload through proxy_ssl: a plain client
    $c = connect_to($port{ul_pssl});
    $t0 = time;
    my $r = xfer($c, $DATA, shut => 1, timeout => 60);
    is($r->{sent}, $LEN, 'proxy_ssl: upload: the client sent 1 MB and its FIN');
    ($got, $gsha, $at) = split ' ', read_out('tls_sink');
    is($got // 0, $LEN, 'proxy_ssl: upload: the TLS backend got every byte');
    is($gsha // '', sha256_hex($DATA), 'proxy_ssl: upload: intact');
    cmp_ok(($at // 0) - $t0, '>=', 0.9 * ($LEN / $RATE - 1),
        'proxy_ssl: upload: 1 MB at 256k/s takes about 3 s at least');
    close $c;
    is(logged('ul_pssl'), "$port{ul_pssl} $LEN 0 client_closed",
        'proxy_ssl: upload: logged as ended by the client');
}

# ---- half-close -----------------------------------------------------------------

{
    # TLS on both sides: the client's close_notify + FIN reach the TLS
    # backend, whose answer still comes back whole
    my $c = tls_client($port{hc});
    ok(writeall($c, $HC_UP), 'half-close: the TLS client wrote 5 MB');
    my $ssl = $c->_get_ssl_object;
    Net::SSLeay::shutdown($ssl);    # close_notify only
    shutdown($c, SHUT_WR);
    my $got = '';
    while (sysread($c, $got, 65536, length $got)) { }
    my $line = (5 * $MB) . ' ' . sha256_hex($HC_UP) . "\n";
    is(substr($got, 0, length $line), $line,
        'half-close: the backend got the 5 MB, then the end of stream');
    my $rest = substr($got, length $line);
    is(length $rest, 5 * $MB,
        'half-close: the client got 5 MB back after its own close_notify');
    ok($rest eq $HC_DOWN, 'half-close: the 5 MB are intact (sha256)')
      or diag(sha256_hex($rest));
    is(Net::SSLeay::get_shutdown($ssl) & 2, 2,
        "half-close: the backend's end reaches the client as close_notify");
    close $c;
    is(logged('hc'), "$port{hc} " . (5 * $MB) . ' '
          . (5 * $MB + length $line) . ' upstream_closed',
        'half-close: logged with both counts, ended by the upstream');

    # the upstream's FIN first: the TLS client gets close_notify and can
    # still send
    $c = tls_client($port{hc_fin});
    $got = '';
    while (my $r = sysread($c, $got, 100, length $got)) { }
    is($got, "hello\n", 'half-close: upstream FIN first: the client reads the end');
    my $data = pattern(3 * $MB, 13);
    ok(writeall($c, $data), '... and can still send 3 MB');
    $ssl = $c->_get_ssl_object;
    Net::SSLeay::shutdown($ssl);
    shutdown($c, SHUT_WR);
    is(read_out('fin'), length($data) . ' ' . sha256_hex($data) . "\n",
        'half-close: the backend got the 3 MB and then the FIN');
    close $c;
    is(logged('hc_fin'), "$port{hc_fin} " . length($data)
          . ' 6 client_closed',
        'half-close: logged as ended by the client');
}

# ---- termination ------------------------------------------------------------------

# [server, line sent, line back, how the client ends, logged]
for my $case (
    [ 'echo', "ping\n", "ping\n", sub {
            $_[0]->stop_SSL(SSL_fast_shutdown => 1);    # close_notify
            shutdown($_[0], SHUT_WR);
        }, '5 5 client_closed' ],
    # the backend resets after its line; passed on, the client sees the end
    [ 'reset', "hi\n", "bye\n", sub { }, '3 4 upstream_reset' ],
    [ 'echo', "x\n", "x\n", \&reset_close, '2 2 client_reset' ],
    # silent for proxy_timeout: wmproxy ends it (drain waits for that)
    [ 'idle', "z\n", "z\n", sub { }, '2 2 idle_timeout' ],
  )
{
    my ($name, $send, $back, $end, $want) = @$case;
    my $c = tls_client($port{$name});
    print $c $send;
    is(scalar <$c>, $back, "$want: the line comes back");
    $end->($c);
    drain($c) if $c->opened;
    close $c;
    my ($counts) = $want =~ /^(\d+ \d+ )/;
    is(logged($name, $counts), "$port{$name} $want", "logged: $want");
}

is(logged('dl_ssl'), "$port{dl_ssl} 0 $LEN upstream_closed",
    'still logged once per session');
$t->done;
