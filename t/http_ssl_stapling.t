#!/usr/bin/perl
# OCSP stapling as an nginx user sees it (ssl_stapling, ssl_stapling_verify,
# ssl_stapling_file, ssl_stapling_responder): openssl s_client -status gets
# the response of the certificate it was sent (good, revoked; RSA and ECDSA
# on one server, each its own), a response signed by an unrelated key is
# not stapled with ssl_stapling_verify on (and is without it), a stapling
# file is stapled at once, a certificate without a responder URL gets the
# nginx warning (so does a missing issuer), a responder that is down is
# logged while the handshakes go on without a staple, SNI picks the
# server's staple, a stream TLS server staples too, a responder by name
# goes through the server's resolver (a DNS server in this test; http and
# stream) and without one is an error, a reload fetches again, and the -t
# errors of a bad file or URL.
#
# The responder is openssl ocsp itself (-reqin/-respout on an index.txt),
# behind a small HTTP front end of this test on 127.0.0.1: openssl 3.0's
# `ocsp -port` would listen on every address.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use WmCerts qw(ca cert);
use WmTest;

for my $tool ('openssl', 'timeout') {
    next if grep { -x "$_/$tool" } split /:/, $ENV{PATH} // '';
    plan skip_all => "$tool is not installed";
}

my $t = WmTest->new(timeout => 240);
my $P = $t->prefix;
my $C = "$P/certs";
mkdir $C, 0755 or die "mkdir: $!";
mkdir "$P/cmd", 0755 or die "mkdir: $!";

my %mine;    # pid => 1: the processes this test started
END { kill 'KILL', $_ for keys %mine; waitpid $_, 0 for keys %mine }

# Runs argv bounded by timeout(1), stdin from /dev/null; {code, out}.
my $ncmd = 0;
sub cmd {
    my @argv = @_;
    my $out  = "$P/cmd/" . ++$ncmd . '.out';
    my $pid  = fork // die "fork: $!";
    if (!$pid) {
        alarm 0;
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', $out;
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec 'timeout', '-s', 'KILL', 20, @argv; }
        POSIX::_exit(127);
    }
    $mine{$pid} = 1;
    waitpid $pid, 0;
    delete $mine{$pid};
    my $code = $? >> 8;
    open my $fh, '<', $out or die "$out: $!";
    local $/;
    return { code => $code, out => <$fh> // '' };
}

# ---- certificates and the responder -------------------------------------------

my ($R1, $R2, $DOWN) = ($t->port, $t->port, $t->port);
ca($C, 'ca', 'Stapling Test CA');
ca($C, 'other', 'Unrelated CA');
my %sn;
$sn{good} = cert($C, 'good', 'good.test', by => 'ca',
    ocsp => "http://127.0.0.1:$R1/");
$sn{revoked} = cert($C, 'revoked', 'revoked.test', by => 'ca',
    ocsp => "http://127.0.0.1:$R1/ocsp/path");
$sn{ec} = cert($C, 'ec', 'good.test', by => 'ca', ec => 1,
    ocsp => "http://127.0.0.1:$R1/");
$sn{noaia} = cert($C, 'noaia', 'noaia.test', by => 'ca');

my @now = gmtime(time - 3600);
my @exp = gmtime(time + 2 * 86400);
my $rev = sprintf '%02d%02d%02d%02d%02d%02dZ', $now[5] % 100, $now[4] + 1,
  @now[3, 2, 1, 0];
my $end = sprintf '%02d%02d%02d%02d%02d%02dZ', $exp[5] % 100, $exp[4] + 1,
  @exp[3, 2, 1, 0];
open my $idx, '>', "$C/index.txt" or die "index.txt: $!";
print $idx "V\t$end\t\t$sn{good}\tunknown\t/CN=good.test\n";
print $idx "R\t$end\t$rev\t$sn{revoked}\tunknown\t/CN=revoked.test\n";
print $idx "V\t$end\t\t$sn{ec}\tunknown\t/CN=good.test\n";
print $idx "V\t$end\t\t$sn{noaia}\tunknown\t/CN=noaia.test\n";
close $idx;
$t->write_file('certs/index.txt.attr', "unique_subject = no\n");

# openssl ocsp answering the DER request in file req into file resp,
# signed by signer ('ca' or 'other').
sub answer {
    my ($req, $resp, $signer) = @_;
    return cmd('openssl', 'ocsp', '-index', "$C/index.txt", '-CA',
        "$C/ca.crt", '-rsigner', "$C/$signer.crt", '-rkey',
        "$C/$signer.key", '-reqin', $req, '-respout', $resp);
}

# An HTTP front end on 127.0.0.1:port for openssl ocsp; counts the
# requests it answered in PREFIX/ocsp-PORT.log (one line each: the path).
sub responder {
    my ($port, $signer) = @_;
    my $ls = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $port, Listen => 16, ReuseAddr => 1, Proto => 'tcp')
      or die "listen $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $ls;
        $mine{$pid} = 1;
        return $pid;
    }
    alarm 0;
    %mine = ();
    my $n = 0;
    while (my $c = $ls->accept) {
        $n++;
        local $/ = "\r\n\r\n";
        my $head = <$c> // next;
        my ($path) = $head =~ m{^POST (\S+) HTTP/1\.[01]\r\n};
        my ($len) = $head =~ /^Content-Length: *(\d+)\r?$/mi;
        my $body = '';
        while (defined $len && length $body < $len) {
            my $r = read $c, $body, $len - length $body, length $body;
            last unless $r;
        }
        my ($req, $resp) = ("$P/req-$port-$n.der", "$P/resp-$port-$n.der");
        open my $fh, '>', $req or POSIX::_exit(1);
        binmode $fh;
        print $fh $body;
        close $fh;
        answer($req, $resp, $signer);
        my $der = '';
        if (open my $rf, '<', $resp) {
            binmode $rf;
            local $/;
            $der = <$rf> // '';
        }
        print $c "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response"
          . "\r\nContent-Length: " . length($der) . "\r\n\r\n$der";
        close $c;
        open my $log, '>>', "$P/ocsp-$port.log" or POSIX::_exit(1);
        print $log(($path // '?') . "\n");
        close $log;
    }
    POSIX::_exit(0);
}

# A name server for the responder's name: ocsp.test is 127.0.0.1 (A),
# with no AAAA; any other name does not exist. Names asked go to
# PREFIX/dns.log.
my $dport = $t->udp_port;
my $dsock = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$dport",
    Proto => 'udp') or die "dns: $!";
my $dns = fork // die "fork: $!";
if (!$dns) {
    alarm 0;
    %mine = ();
    while (defined(my $from = $dsock->recv(my $q, 512, 0))) {
        next if length $q < 17;
        my ($id, $nq) = unpack 'n x2 n', $q;
        my ($pos, @name) = (12);
        while ((my $len = ord substr $q, $pos, 1) && $pos < length $q) {
            push @name, substr $q, $pos + 1, $len;
            $pos += $len + 1;
        }
        my $type = unpack 'n', substr $q, $pos + 1, 2;
        my $qname = lc join '.', @name;
        my $ans = $qname eq 'ocsp.test' && $type == 1
          ? pack('n3 N n C4', 0xc00c, 1, 1, 60, 4, 127, 0, 0, 1) : '';
        my $rcode = $qname eq 'ocsp.test' ? 0 : 3;
        $dsock->send(pack('n6', $id, 0x8180 | $rcode, 1, $ans ? 1 : 0, 0, 0)
              . substr($q, 12, $pos + 5 - 12) . $ans, 0, $from);
        open my $log, '>>', "$P/dns.log" or POSIX::_exit(1);
        print $log "$type $qname\n";
        close $log;
    }
    POSIX::_exit(0);
}
close $dsock;
$mine{$dns} = 1;

my $r1 = responder($R1, 'ca');
my $r2 = responder($R2, 'other');

# A stapling file made as the responder would answer.
my $r = cmd('openssl', 'ocsp', '-issuer', "$C/ca.crt", '-cert',
    "$C/noaia.crt", '-no_nonce', '-reqout', "$C/noaia-req.der");
is($r->{code}, 0, 'OCSP request for the stapling file') or diag($r->{out});
$r = answer("$C/noaia-req.der", "$C/noaia-resp.der", 'ca');
is($r->{code}, 0, 'OCSP response for the stapling file') or diag($r->{out});
$t->write_file('certs/garbage.der', "not an OCSP response\n");

# ---- the server ---------------------------------------------------------------------

my ($PSTREAM, $PCHAIN) = ($t->port, $t->port);
{
    local $/;
    open my $a, '<', "$C/good.crt" or die "good.crt: $!";
    open my $b, '<', "$C/ca.crt" or die "ca.crt: $!";
    $t->write_file('certs/goodchain.crt', <$a> . <$b>);
}
my @ports = map { $t->port } 1 .. 9;
my ($PGOOD, $PREV, $PBAD, $PFILE, $PNOAIA, $PDOWN, $PNOVERIFY, $PNAME,
    $PNONAME) = @ports;
sub srv {
    my ($port, $cert, $extra) = @_;
    return <<"EOF";
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $C/$cert.crt;
        ssl_certificate_key $C/$cert.key;
        ssl_stapling on;
        ssl_trusted_certificate $C/ca.crt;
        $extra
        location / { return 200 "port $port\\n"; }
    }
EOF
}
$t->write_conf("worker_processes 1;\nevents { }\nhttp {\n"
      . srv($PGOOD, 'good',
        "ssl_stapling_verify on;\n ssl_certificate $C/ec.crt;\n"
          . " ssl_certificate_key $C/ec.key;")
      . srv($PREV, 'revoked', 'ssl_stapling_verify on;')
      . srv($PBAD, 'good', "ssl_stapling_verify on;\n"
          . " ssl_stapling_responder http://127.0.0.1:$R2/bad;")
      . srv($PFILE, 'noaia', "ssl_stapling_file $C/noaia-resp.der;")
      . srv($PNOAIA, 'noaia', '')
      . srv($PDOWN, 'good', "ssl_stapling_responder http://127.0.0.1:$DOWN;")
      . srv($PNOVERIFY, 'revoked',
        "ssl_stapling_responder http://127.0.0.1:$R2/noverify;")
      . srv($PNAME, 'revoked', "ssl_stapling_responder http://ocsp.test:$R1/byname;"
          . "\n resolver 127.0.0.1:$dport;\n resolver_timeout 5s;")
      . srv($PNONAME, 'good', "ssl_stapling_responder http://ocsp.test:$R1/;")
      . srv($PREV, 'good', "server_name sni.test;\n ssl_stapling_verify on;")
      . "server {\n listen 127.0.0.1:$PCHAIN ssl;\n"
      . " ssl_certificate $C/goodchain.crt;\n ssl_certificate_key $C/good.key;\n"
      . " ssl_stapling on;\n ssl_stapling_verify on;\n}\n"
      . "}\nstream {\n    server {\n        listen 127.0.0.1:$PSTREAM ssl;\n"
      . "        ssl_certificate $C/good.crt;\n"
      . "        ssl_certificate_key $C/good.key;\n"
      . "        ssl_trusted_certificate $C/ca.crt;\n"
      . "        ssl_stapling_responder http://ocsp.test:$R1/stream;\n"
      . "        resolver 127.0.0.1:$dport;\n"
      . "        ssl_stapling on;\n        return \"stream\\n\";\n    }\n}\n");

my $tt = $t->run('-p', "$P/", '-c', $t->conf_path, '-t');
is($tt->{code}, 0, '-t accepts the stapling config') or diag($tt->{stderr});
like($tt->{stderr},
    qr/\[warn\] .*"ssl_stapling" ignored, no OCSP responder URL in the certificate "\Q$C\E\/noaia\.crt"/,
    '-t warns about the certificate without a responder URL');

$t->start(ports => [ @ports, $PSTREAM, $PCHAIN ]);

# s_client -status against port until its output matches re (the first
# handshakes may come before the fetch); the last output.
sub status {
    my ($port, $re, @args) = @_;
    my $out = '';
    for (1 .. 40) {
        my @sni = grep({ $_ eq '-servername' } @args)
          ? () : ('-servername', 'good.test');
        my $r = cmd('openssl', 's_client', '-connect', "127.0.0.1:$port",
            @sni, '-status', @args);
        $out = $r->{out};
        last if !$re || $out =~ $re;
        sleep 0.5;
    }
    return $out;
}

my $out = status($PGOOD, qr/Cert Status: good/, '-sigalgs',
    'rsa_pss_rsae_sha256');
like($out, qr/OCSP Response Status: successful \(0x0\)/,
    'RSA certificate: a successful response is stapled');
like($out, qr/Cert Status: good/, 'RSA certificate: good');
like($out, qr/Serial Number: \Q$sn{good}\E\n/,
    'RSA certificate: the response is the RSA certificate\'s');
like($out, qr/Peer signature type: RSA-PSS/, 'RSA certificate was sent');

$out = status($PGOOD, qr/Cert Status: good/, '-sigalgs',
    'ecdsa_secp256r1_sha256');
like($out, qr/Cert Status: good/, 'ECDSA certificate: good');
like($out, qr/Serial Number: \Q$sn{ec}\E\n/,
    'ECDSA certificate: its own response');
like($out, qr/Peer signature type: ECDSA/, 'ECDSA certificate was sent');

$out = status($PREV, qr/Cert Status: revoked/);
like($out, qr/OCSP Response Status: successful \(0x0\)/,
    'revoked certificate: response stapled');
like($out, qr/Cert Status: revoked/, 'revoked certificate: revoked');
like($out, qr/Serial Number: \Q$sn{revoked}\E\n/, 'of the revoked one');
ok($t->wait_log(
        qr/\[warn\] .*certificate "\Q$C\E\/revoked\.crt" is revoked according to OCSP responder "127\.0\.0\.1:$R1"/),
    'the revoked status is logged');
ok($t->wait_until(sub { $t->log_text("ocsp-$R1.log") =~ m{^/ocsp/path$}m }),
    'the AIA URL path was asked');

# Without ssl_stapling_verify a response signed by anyone is stapled.
$out = status($PNOVERIFY, qr/Cert Status: revoked/);
like($out, qr/Cert Status: revoked/,
    'verify off: the unrelated signer\'s response is stapled');
ok($t->wait_until(sub { $t->log_text("ocsp-$R2.log") =~ m{^/noverify$}m }),
    'ssl_stapling_responder replaced the certificate\'s URL');

# With it, not; the error is logged and the handshakes go on.
ok($t->wait_log(
        qr/\[error\] .*OCSP_basic_verify\(\) failed: .*, OCSP responder "127\.0\.0\.1:$R2", certificate "\Q$C\E\/good\.crt"/),
    'verify on: the unrelated signer is an error');
$out = status($PBAD, undef);
like($out, qr/OCSP response: no response sent/,
    'verify on: the response that does not verify is not stapled');
like($out, qr/Verify return code|Cipher is (?!\(NONE\))/, 'handshake made');

# The stapling file, at once (no responder asked for it).
$out = status($PFILE, undef);
like($out, qr/Cert Status: good/, 'ssl_stapling_file is stapled at once');
like($out, qr/Serial Number: \Q$sn{noaia}\E\n/, 'the file\'s response');

# No responder URL: no staple, not an error.
$out = status($PNOAIA, undef);
like($out, qr/OCSP response: no response sent/,
    'certificate without responder URL: no staple');
like($t->start_output->{stderr},
    qr/\[warn\] .*"ssl_stapling" ignored, no OCSP responder URL in the certificate "\Q$C\E\/noaia\.crt"/,
    'the warning is printed at start');

# The responder is down.
ok($t->wait_log(
        qr/\[error\] .*OCSP responder "127\.0\.0\.1:$DOWN" could not be reached or closed the connection, for certificate "\Q$C\E\/good\.crt"/),
    'a responder that is down is logged');
$out = status($PDOWN, undef);
like($out, qr/OCSP response: no response sent/, 'down: no staple');
$r = cmd('sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 "
      . "openssl s_client -connect 127.0.0.1:$PDOWN -quiet -ign_eof 2>&1");
like($r->{out}, qr/HTTP\/1\.1 200 OK.*port $PDOWN\n/s,
    'down: the server still serves');
$out = status($PGOOD, qr/Cert Status: good/);
like($out, qr/Cert Status: good/, 'the other servers still staple');

# SNI picks the server, and the server its staple.
$out = status($PREV, qr/Cert Status: good/, '-servername', 'sni.test');
like($out, qr/Cert Status: good/, 'SNI: the other server\'s staple');
like($out, qr/Serial Number: \Q$sn{good}\E\n/, 'SNI: of its certificate');
like($out, qr/subject=CN = good\.test/, 'SNI: its certificate');

# The issuer from the certificate file (no ssl_trusted_certificate):
# verified too, the file's certificates being trusted as signers.
$out = status($PCHAIN, qr/Cert Status: good/);
like($out, qr/Cert Status: good/, 'issuer in the chain file: verified, stapled');

# Stream TLS servers staple as well.
$out = status($PSTREAM, qr/Cert Status: good/);
like($out, qr/Cert Status: good/, 'stream: stapled');
like($out, qr/Serial Number: \Q$sn{good}\E\n/, 'stream: of its certificate');
ok($t->wait_until(sub { $t->log_text("ocsp-$R1.log") =~ m{^/stream$}m }),
    'stream: responder by name through the server\'s resolver');

# A responder by name: through the server's resolver; without one, an
# error.
$out = status($PNAME, qr/Cert Status: revoked/);
like($out, qr/Cert Status: revoked/, 'responder by name: stapled');
ok($t->wait_until(sub { $t->log_text("ocsp-$R1.log") =~ m{^/byname$}m }),
    'responder by name: asked');
like($t->log_text('dns.log'), qr/^1 ocsp\.test$/m,
    'responder by name: resolved with the server\'s resolver');
ok($t->wait_log(
        qr/\[error\] .*no resolver defined to resolve OCSP responder "ocsp\.test", for certificate "\Q$C\E\/good\.crt"/),
    'responder by name without resolver: an error');
$out = status($PNONAME, undef);
like($out, qr/OCSP response: no response sent/,
    'responder by name without resolver: no staple');

# A reload: the new worker fetches for the new configuration.
my $asked = () = $t->log_text("ocsp-$R1.log") =~ m{^/$}mg;
my $off = $t->log_size;
$t->reload;
ok($t->wait_until(sub {
            my $n = () = $t->log_text("ocsp-$R1.log") =~ m{^/$}mg;
            $n >= $asked + 2;
        }, 30),
    'reload: the new worker asks again (RSA and ECDSA)');
$out = status($PGOOD, qr/Cert Status: good/);
like($out, qr/Cert Status: good/, 'reload: stapled');
unlike($t->log_since($off), qr/\[(alert|crit)\]/, 'reload: no alert');

# ---- -t errors ----------------------------------------------------------------------

sub bad {
    my ($extra, $line, $re, $name) = @_;
    $t->conf_rejected(<<"EOF", $line, $re, $name);
events { }
http {
    server {
        listen 127.0.0.1:$PGOOD ssl;
        ssl_certificate $C/good.crt;
        ssl_certificate_key $C/good.key;
        ssl_stapling on;
        $extra
    }
}
EOF
}
bad("ssl_stapling_file $C/missing.der;", 11,
    qr/cannot open "\Q$C\E\/missing\.der": No such file or directory/,
    'missing stapling file');
bad("ssl_stapling_file $C/garbage.der;", 11,
    qr/cannot parse OCSP response "\Q$C\E\/garbage\.der"/,
    'garbage stapling file');
bad("ssl_stapling_responder https://127.0.0.1:$R1/;", 11,
    qr/"ssl_stapling_responder" directive has invalid value "https:\/\/127\.0\.0\.1:$R1\/": only http:\/\/ OCSP responders are supported/,
    'https responder');
bad('ssl_stapling_responder http://127.0.0.1:99999/;', 11,
    qr/invalid port in OCSP responder URL/, 'bad port');
bad('ssl_stapling maybe;', 11, qr/"ssl_stapling" directive/, 'bad flag');

# No issuer in the chain nor in ssl_trusted_certificate: a warning, as a
# certificate without a responder URL.
{
    my $keep = $t->conf_path;
    my $conf = $t->write_conf(<<"EOF", name => 'noissuer.conf');
events { }
http {
    server {
        listen 127.0.0.1:$PGOOD ssl;
        ssl_certificate $C/good.crt;
        ssl_certificate_key $C/good.key;
        ssl_stapling on;
    }
}
EOF
    $t->{conf} = $keep;
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 0, 'no issuer: -t succeeds');
    like($r->{stderr},
        qr/\[warn\] .*"ssl_stapling" ignored, issuer certificate not found for certificate "\Q$C\E\/good\.crt"/,
        'no issuer: the warning');
}

$t->stop;
for my $pid ($r1, $r2, $dns) {
    kill 'TERM', $pid;
    waitpid $pid, 0;
    delete $mine{$pid};
}
$t->done;
