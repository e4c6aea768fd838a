#!/usr/bin/perl
# A plain HTTP request sent to a `listen ... ssl` port, as nginx answers
# it: a 400 whose page says "The plain HTTP request was sent to HTTPS
# port" (nginx's code 497), logged at info with the request context, the
# connection closed after it; `error_page 497` of the server that the Host
# picks turns it into a redirect to https or another page. A TLS client on
# the same port is still served, bytes that are neither TLS nor HTTP get
# the parser's 400, and the pages of the client-certificate errors (495,
# 496) have nginx's form too. Each answer is compared with Debian's nginx
# on the same configuration when it is installed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::SSL;
use Test::More;
use WmTest;
use WmHttpClient;
use WmNginx;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
my ($wport, $nport) = ($t->port, $t->port);

my $srcdir = $ENV{WM_SRCDIR} // "$FindBin::Bin/..";
my ($version) = do {
    open my $fh, '<', "$srcdir/configure.ac" or die "configure.ac: $!";
    local $/;
    <$fh> =~ /AC_INIT\(\[wmproxy\],\s*\[([^\]]+)\]/;
};

mkdir "$P/c";
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
      . " -keyout $P/c/key.pem -out $P/c/cert.pem 2>/dev/null") == 0
  or BAIL_OUT('openssl req failed');
$t->write_file('html/plain.html', "served over plain http\n");
$t->write_file('html/a.txt', "a over tls\n");

sub http_body {
    my $port = shift;
    return <<"EOF";
    types { text/html html; text/plain txt; }
    default_type text/plain;
    ssl_certificate $P/c/cert.pem;
    ssl_certificate_key $P/c/key.pem;
    root $P/html;
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        location = /scheme { return 200 "scheme=\$scheme https=\$https\\n"; }
    }
    server {
        listen 127.0.0.1:$port ssl;
        server_name moved.test;
        error_page 497 =301 https://\$host:\$server_port\$request_uri;
    }
    server {
        listen 127.0.0.1:$port ssl;
        server_name found.test;
        error_page 497 https://\$host\$request_uri;
    }
    server {
        listen 127.0.0.1:$port ssl;
        server_name page.test;
        error_page 497 =200 /plain.html;
    }
    server {
        listen 127.0.0.1:$port ssl;
        server_name loc.test;
        location / { error_page 497 =301 https://elsewhere/; }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

my $PAGE = "<html>\r\n<head><title>400 The plain HTTP request was sent to "
  . "HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request"
  . "</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS "
  . "port</center>\r\n<hr><center>wmproxy/$version</center>\r\n</body>\r\n"
  . "</html>\r\n";

# Sends raw bytes, reads one response and whether the connection then
# ends; {error} when nothing came.
sub raw {
    my ($port, $bytes, %o) = @_;
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send($bytes);
    my $r = $c->read_response(head => $o{head});
    $r->{closed} = $c->wait_eof(5) && $c->{buf} eq '' ? 1 : 0
      unless $r->{error};
    $r->{rest} = $c->{buf};
    return $r;
}

sub same_as_nginx {
    my ($name, $bytes, $w, %o) = @_;
    return unless $nginx_up;
    (my $nb = $bytes) =~ s/\b$wport\b/$nport/g;
    my $n = raw($nport, $nb, %o);
    is_deeply(WmNginx::comparable($w, $wport, qw(content-type location
                connection)),
        WmNginx::comparable($n, $nport, qw(content-type location connection)),
        "$name: as nginx");
}

my @cases = (
    # name, bytes, status line, body, Location
    [ 'GET', "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
        'HTTP/1.1 400 Bad Request', $PAGE ],
    [ 'HTTP/1.0 without Host', "GET /a.txt HTTP/1.0\r\n\r\n",
        'HTTP/1.1 400 Bad Request', $PAGE ],
    [ 'HEAD', "HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
        'HTTP/1.1 400 Bad Request', '', undef, head => 1 ],
    [ 'a keep-alive request with another pipelined behind it',
        "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
          . "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
        'HTTP/1.1 400 Bad Request', $PAGE ],
    [ 'error_page 497 =301 URL with variables',
        "GET /x/y?q=1 HTTP/1.1\r\nHost: moved.test\r\n\r\n",
        'HTTP/1.1 301 Moved Permanently', undef,
        "https://moved.test:$wport/x/y?q=1" ],
    [ 'error_page 497 URL: a 302',
        "GET /x HTTP/1.1\r\nHost: found.test\r\n\r\n",
        'HTTP/1.1 302 Moved Temporarily', undef, 'https://found.test/x' ],
    [ 'error_page 497 =200 /uri: served over plain http',
        "GET /x HTTP/1.1\r\nHost: page.test\r\n\r\n",
        'HTTP/1.1 200 OK', "served over plain http\n" ],
    [ 'error_page 497 of a location does not apply (the server\'s does)',
        "GET /x HTTP/1.1\r\nHost: loc.test\r\n\r\n",
        'HTTP/1.1 400 Bad Request', $PAGE ],
    [ 'bytes that are neither TLS nor HTTP: 400 from the parser',
        "\x01\x02\x03 junk\r\n\r\n", 'HTTP/1.1 400 Bad Request',
        "<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
          . "<center><h1>400 Bad Request</h1></center>\r\n<hr><center>"
          . "wmproxy/$version</center>\r\n</body>\r\n</html>\r\n" ],
);

my $off = $t->log_size;
for my $c (@cases) {
    my ($name, $bytes, $line, $body, $location, %o) = @$c;
    my $w = raw($wport, $bytes, %o);
    if ($w->{error}) {
        fail("$name: $w->{error}");
        next;
    }
    is($w->{line}, $line, "$name: $line");
    is($w->{body}, $body, "$name: body") if defined $body;
    is($w->{h}{location}, $location, "$name: Location") if $location;
    is($w->{h}{connection}, 'close', "$name: Connection: close");
    ok($w->{closed}, "$name: the connection is closed after the answer")
      or diag("then: $w->{rest}");
    same_as_nginx($name, $bytes, $w, %o);
}

ok($t->wait_log(qr/^$D \[info\] \d+#\d+: (?:\*\d+ )?client sent plain HTTP request to HTTPS port, client: 127\.0\.0\.1, server: localhost, request: "GET \/a\.txt HTTP\/1\.1", host: "localhost"$/m,
        from => $off, timeout => 3),
    'logged at info with the request context')
  or diag($t->log_since($off));
my @loud = grep { /\[(?:notice|warn|error|crit|alert|emerg)\]/ }
  split /\n/, $t->log_since($off);
is(scalar @loud, 0, 'nothing above info for plain requests')
  or diag(join "\n", @loud);
if ($nginx_up) {
    like($ng->log_text, qr/\[info\] .*client sent plain HTTP request to HTTPS port(?: while [^,]*)?, client: 127\.0\.0\.1, server: localhost, request: "GET \/a\.txt HTTP\/1\.1", host: "localhost"/,
        'nginx logs the same line');
}

# The access log has the status the client got.
{
    my $log = do {
        open my $fh, '<', "$P/logs/access.log" or die "access.log: $!";
        local $/;
        <$fh>;
    };
    like($log, qr{"GET /a\.txt HTTP/1\.1" 400 \d+ }, 'access log: 400');
    like($log, qr{"GET /x/y\?q=1 HTTP/1\.1" 301 }, 'access log: the 301');
}

# TLS on the same port is unaffected.
for my $port ($wport, $nginx_up ? $nport : ()) {
    my $who = $port == $wport ? 'wmproxy' : 'nginx';
    my $s = IO::Socket::SSL->new(PeerAddr => "127.0.0.1:$port",
        SSL_verify_mode => SSL_VERIFY_NONE, SSL_hostname => 'localhost',
        Timeout => 5);
    ok($s, "$who: a TLS client on the same port connects")
      or do { diag($SSL_ERROR); next };
    print $s "GET /scheme HTTP/1.1\r\nHost: localhost\r\n"
      . "Connection: close\r\n\r\n";
    my $resp = do { local $/; <$s> } // '';
    like($resp, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nscheme=https https=on\n\z}s,
        "$who: and is served over TLS");
}

# Connected, nothing sent, then closed: no answer, no log above info.
{
    my $c = WmHttpClient->new($wport);
    $c->{s}->shutdown(1);
    ok($c->wait_eof(5) && $c->{buf} eq '', 'an empty connection gets no '
          . 'answer');
}

my $w = raw($wport, "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
is($w->{line}, 'HTTP/1.1 400 Bad Request', 'still answering');
$ng->stop if $ng;
$t->done;
