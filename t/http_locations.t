#!/usr/bin/perl
# Locations and servers as nginx chooses them: =, ^~, the longest prefix,
# regexes in order, ~*, nested locations, @named with error_page, internal,
# regex captures in return; server_name exact, *.wild, wild.*, ~regex and
# default_server by Host; return with its codes (text with variables,
# redirects, 204, 444); error_page to a URI (status kept), =code, = and a
# URL.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($p1, $p_srv) = map { $t->port } 1 .. 2;
my $port;    # the port get() talks to

my $srcdir = $ENV{WM_SRCDIR} // "$FindBin::Bin/..";
my ($version) = do {
    open my $fh, '<', "$srcdir/configure.ac" or die "configure.ac: $!";
    local $/;
    <$fh> =~ /AC_INIT\(\[wmproxy\],\s*\[([^\]]+)\]/;
};
die "no version in configure.ac" unless $version;

$t->write_file('html/files/a.txt',        "file a\n");
$t->write_file('html/errpages/404.html',  "custom 404 page\n");
$t->write_file('html/errpages/403.html',  "custom 403 page\n");
$t->write_file('html/ep-403/noindex/x',   "x\n");
$t->write_file('html/srv/here.txt',       "here\n");
$t->write_file('html50x/50x.html',        "custom 50x page\n");

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    types {
        text/html  html;
        text/plain txt;
    }
    default_type text/plain;
    root $P/html;

    server {
        listen 127.0.0.1:$p1;
        server_name loc.test;

        location = / { return 200 "exact root\$request_uri\\n"; }
        location / { return 200 "prefix root\\n"; }
        location = /exact { return 200 "exact\\n"; }
        location = /x.php { return 200 "exact php\\n"; }
        location /loop/ { index /loop/; }
        location /exact { return 200 "prefix exact\\n"; }
        location ^~ /static/ { return 200 "noregex static\\n"; }
        location /static/deeper/ { return 200 "longer plain prefix\\n"; }
        location /docs/ { return 200 "docs prefix\\n"; }
        location ~ \\.php\$ { return 200 "php regex\\n"; }
        location ~ ^/docs/.*\\.php\$ { return 200 "docs php regex\\n"; }
        location ~* \\.(gif|jpg)\$ { return 200 "image regex ci\\n"; }
        location ~ ^/cap/(\\w+)/(\\d+)\$ { return 200 "name=\$1 id=\$2\\n"; }
        location ~ ^/old/(.*)\$ { return 301 /new/\$1; }
        location ~ ^/away/(.*)\$ { return 302 http://example.com/\$1?from=away; }
        location /nest/ {
            return 200 "nest outer\\n";
            location /nest/inner/ { return 200 "nest inner\\n"; }
            location ~ \\.txt\$ { return 200 "nest regex\\n"; }
        }
        location /int/ { internal; return 200 "internal\\n"; }
        location /files/ { }
        location /errpages/ { internal; }
        location /ep-uri/ { error_page 404 /errpages/404.html; }
        location /ep-200/ { error_page 404 =200 /errpages/404.html; }
        location /ep-eq/ { error_page 404 = /errpages/404.html; }
        location /ep-url/ { error_page 404 http://example.com/notfound; }
        location /ep-url301/ { error_page 404 =301 http://example.com/moved; }
        location /ep-named/ { error_page 404 = \@fallback; }
        location /ep-named-keep/ { error_page 404 \@fallback; }
        location /ep-return/ { error_page 404 /int/page; }
        location /ep-403/ { error_page 403 /errpages/403.html; }
        location /ep-missing/ { error_page 404 /errpages/nothere.html; }
        location /ep-multi/ { error_page 403 404 500 =200 /errpages/404.html; }
        location \@fallback { return 200 "named fallback\\n"; }
        location /vars {
            return 200 "uri=\$uri args=\$args is_args=\$is_args host=\$host method=\$request_method request_uri=\$request_uri a=\$arg_a proto=\$server_protocol server=\$server_name\\n";
        }
        location /ret204 { return 204; }
        location /ret444 { return 444; }
        location /ret403 { return 403; }
        location /ret404text { return 404 "custom not found\\n"; }
        location /ret301 { return 301 http://example.com/x; }
        location /ret302 { return 302 /relative/target; }
        location /ret307 { return 307 http://example.com/t; }
        location /ret-url { return http://example.com/lone; }
        location /ret-typed/ { return 200 "typed\\n"; }
    }

    server {
        listen 127.0.0.1:$p_srv;
        server_name srv.test;
        error_page 404 /errpages/404.html;
        error_page 500 502 503 504 /50x.html;
        location = /50x.html { root html50x; }
        location /boom { return 502; }
        location /errpages/ { internal; }
        location /srv/ { }
        location /redirect/ { return 301 http://example.com\$request_uri; }
    }
}
EOF

my $LOC_CONF = $t->conf_path;

# The servers of the server_name checks on port $pa, the default_server
# listed last (as configs usually have it) or first; and two servers
# without default_server on port $pb.
sub names_conf {
    my ($pa, $pb, $default_first) = @_;
    my @s = map { my ($names, $text) = @$_; <<"EOS" }
    server {
        listen 127.0.0.1:$pa;
        server_name $names;
        return 200 "$text\\n";
    }
EOS
      [ 'first.test',                 'first' ],
      [ 'exact.test alias.test',
        'exact host=$host server_name=$server_name' ],
      [ '*.wild.test',                'head wildcard' ],
      [ '*.b.wild.test',              'longer head wildcard' ],
      [ 'www.*',                      'tail wildcard' ],
      [ '~^[a-z]+\.re\.test$',        'regex 1' ],
      [ '~^b',                        'regex 2' ],
      [ '.dot.test',                  'dot' ];
    my $dflt = <<"EOS";
    server {
        listen 127.0.0.1:$pa default_server;
        server_name dflt.test;
        return 200 "default\\n";
    }
EOS
    $default_first ? unshift(@s, $dflt) : splice(@s, 7, 0, $dflt);
    return <<"EOC";
worker_processes 1;
events { }
http {
    default_type text/plain;

@{[ join '', @s ]}
    server {
        listen 127.0.0.1:$pb;
        server_name one.test;
        return 200 "one\\n";
    }
    server {
        listen 127.0.0.1:$pb;
        server_name two.test;
        return 200 "two\\n";
    }
}
EOC
}

# ---- helpers ----------------------------------------------------------------

# The built-in page of a status as nginx writes it; its title is the
# status line, but for 302, whose page says "302 Found".
sub page {
    my ($line, $sig) = @_;
    $sig //= "wmproxy/$version";
    my $title = $line eq '302 Moved Temporarily' ? '302 Found' : $line;
    return "<html>\r\n<head><title>$title</title></head>\r\n<body>\r\n"
      . "<center><h1>$title</h1></center>\r\n<hr><center>$sig</center>\r\n"
      . "</body>\r\n</html>\r\n";
}

sub req {
    my ($raw, %o) = @_;
    my $c = WmHttpClient->new($o{port} // $port) or return { error => "connect: $!" };
    $c->send($raw);
    my $r = $c->read_response(%o);
    $r->{conn} = $c;
    return $r;
}

sub get {
    my ($path, %h) = @_;
    my $m    = delete $h{method} // 'GET';
    my $host = delete $h{Host}   // 'loc.test';
    my $raw  = "$m $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n";
    $raw .= "$_: $h{$_}\r\n" for sort keys %h;
    return req("$raw\r\n", head => $m eq 'HEAD');
}

sub check {
    my ($r, $name, %w) = @_;
    if ($r->{error}) {
        fail("$name: $r->{error}");
        return;
    }
    is($r->{line}, $w{line}, "$name: $w{line}") if defined $w{line};
    for my $k (sort keys %{ $w{h} // {} }) {
        my $v = $w{h}{$k};
        if (!defined $v) {
            ok(!exists $r->{h}{ lc $k }, "$name: no $k header")
              or diag("$k: $r->{h}{lc $k}");
        } elsif (ref $v eq 'Regexp') {
            like($r->{h}{ lc $k } // '<none>', $v, "$name: $k");
        } else {
            is($r->{h}{ lc $k } // '<none>', $v, "$name: $k: $v");
        }
    }
    if (exists $w{body}) {
        (my $show = $w{body}) =~ s/\n/\\n/g;
        is($r->{body}, $w{body}, "$name: body"
              . (length $w{body} < 60 && $w{body} !~ /\r/ ? " \"$show\""
                : ' (' . length($w{body}) . ' bytes)'));
    }
}

# GET path on the current port: 200 with body text.
sub text_is {
    my ($path, $body, $name, %h) = @_;
    check(get($path, %h), $name // "$path", line => 'HTTP/1.1 200 OK',
        body => $body);
}

$t->section('locations, internal, error_page, return' => sub {
    $t->start(workers => 1, ports => [ $p1, $p_srv ], conf => $LOC_CONF) or return;

    # ---- location matching --------------------------------------------------

    $port = $p1;
    text_is('/',           "exact root/\n",   '= / wins for /');
    # An absolute-form target without a path: $request_uri is "/" (as
    # nginx), with the query after it (nginx gives the query alone).
    for (["http://loc.test", "/"], ["http://loc.test:99?q=1", "/?q=1"]) {
        check(req("GET $_->[0] HTTP/1.1\r\nHost: other\r\n\r\n"),
            "\$request_uri of GET $_->[0]", line => 'HTTP/1.1 200 OK',
            body => "exact root$_->[1]\n");
    }
    text_is('/x',          "prefix root\n",   '/x falls to location /');
    text_is('/exact',      "exact\n",         '= /exact');
    text_is('/exact/',     "prefix exact\n",  '/exact/ is the prefix, not =');
    text_is('/exactly',    "prefix exact\n",  '/exactly: prefix /exact');
    text_is('/exact?q=1',  "exact\n",         '= /exact with arguments');
    text_is('/static/a.php', "noregex static\n",
        '^~ /static/ stops the regexes');
    text_is('/static/deeper/a.php', "php regex\n",
        'a longer plain prefix than ^~ lets the regexes run');
    text_is('/static/deeper/a.css', "longer plain prefix\n",
        'the longest prefix wins when no regex matches');
    text_is('/docs/a.html', "docs prefix\n", 'prefix /docs/');
    text_is('/docs/a.php',  "php regex\n",
        'regexes in config order: the first that matches wins');
    text_is('/a.php',       "php regex\n", '~ \.php$');
    text_is('/x.php',       "exact php\n", '= beats a regex');
    text_is('/a.PHP',       "prefix root\n", '~ is case-sensitive');
    text_is('/pics/a.GIF',  "image regex ci\n", '~* is case-insensitive');
    text_is('/pics/a.jpg',  "image regex ci\n", '~* matches lowercase too');
    text_is('/cap/foo/42',  "name=foo id=42\n", 'captures $1 and $2 in return');
    text_is('/cap/foo/4x',  "prefix root\n", 'no capture match: prefix');
    text_is('/nest/',       "nest outer\n", 'the outer nested-parent location');
    text_is('/nest/inner/x', "nest inner\n", 'a nested prefix location');
    text_is('/nest/a.txt',  "nest regex\n", 'a nested regex location');
    text_is('/nest/inner/a.txt', "nest regex\n",
        'a nested regex beats a nested prefix');
    text_is('/nest/a.php',  "php regex\n",
        'an outer regex applies below a nested parent');
    text_is('/%65xact',     "exact\n", 'locations match the decoded URI');
    text_is('/static/../exact', "exact\n", 'locations match the normalised URI');
    text_is('//exact',      "exact\n", 'merge_slashes: //exact is /exact');

    check(get('/old/a/b?x=1'), 'return 301 with a capture: absolute Location',
        line => 'HTTP/1.1 301 Moved Permanently',
        h    => { 'Location' => "http://loc.test:$p1/new/a/b",
            'Content-Type' => 'text/html' },
        body => page('301 Moved Permanently'));
    check(get('/away/z'), 'return 302 URL with a capture',
        line => 'HTTP/1.1 302 Moved Temporarily',
        h    => { 'Location' => 'http://example.com/z?from=away' },
        body => page('302 Moved Temporarily'));

    # ---- internal -----------------------------------------------------------

    check(get('/int/page'), 'internal: a client request gets 404',
        line => 'HTTP/1.1 404 Not Found', body => page('404 Not Found'));
    check(get('/errpages/404.html'), 'internal: a client request gets 404 '
          . '(static)', line => 'HTTP/1.1 404 Not Found',
        body => page('404 Not Found'));

    # ---- error_page ---------------------------------------------------------

    check(get('/ep-uri/missing'), 'error_page 404 /uri: the status is kept',
        line => 'HTTP/1.1 404 Not Found',
        h    => { 'Content-Type' => 'text/html',
            'Content-Length' => length "custom 404 page\n",
            'Last-Modified' => undef },
        body => "custom 404 page\n");
    check(get('/ep-uri/missing', method => 'HEAD'),
        'error_page 404 /uri for HEAD', line => 'HTTP/1.1 404 Not Found',
        body => '');
    check(get('/ep-200/missing'), 'error_page 404 =200 /uri',
        line => 'HTTP/1.1 200 OK', body => "custom 404 page\n");
    check(get('/ep-eq/missing'), 'error_page 404 = /uri: the status of the '
          . 'page', line => 'HTTP/1.1 200 OK', body => "custom 404 page\n");
    check(get('/ep-url/missing'), 'error_page 404 URL: 302',
        line => 'HTTP/1.1 302 Moved Temporarily',
        h    => { 'Location' => 'http://example.com/notfound',
            'Content-Type' => 'text/html' },
        body => page('302 Moved Temporarily'));
    check(get('/ep-url301/missing'), 'error_page 404 =301 URL: 301',
        line => 'HTTP/1.1 301 Moved Permanently',
        h    => { 'Location' => 'http://example.com/moved' });
    check(get('/ep-named/missing'), 'error_page 404 = @named',
        line => 'HTTP/1.1 200 OK', body => "named fallback\n");
    check(get('/ep-named-keep/missing'),
        'error_page 404 @named: the status is kept',
        line => 'HTTP/1.1 404 Not Found', body => "named fallback\n");
    check(get('/ep-return/missing'),
        'error_page 404 to a location with return 200 text: 404 kept',
        line => 'HTTP/1.1 404 Not Found', body => "internal\n");
    check(get('/ep-403/noindex/'), 'error_page 403 for a directory index',
        line => 'HTTP/1.1 403 Forbidden', body => "custom 403 page\n");
    check(get('/ep-missing/missing'),
        'error_page to a missing page: the built-in 404',
        line => 'HTTP/1.1 404 Not Found', body => page('404 Not Found'));
    check(get('/ep-multi/missing'), 'error_page with several codes =200',
        line => 'HTTP/1.1 200 OK', body => "custom 404 page\n");
    check(get('/files/a.txt'), 'a location without error_page serves files',
        line => 'HTTP/1.1 200 OK', body => "file a\n");

    my $off = $t->log_size;
    check(get('/loop/'), 'an internal redirection cycle: 500',
        line => 'HTTP/1.1 500 Internal Server Error',
        body => page('500 Internal Server Error'));
    ok($t->wait_log(qr/\[error\] .*rewrite or internal redirection cycle while internally redirecting to "\/loop\/"/,
            from => $off, timeout => 5),
        'the cycle is logged: [error] rewrite or internal redirection cycle '
          . 'while internally redirecting to "/loop/"');

    # ---- return -------------------------------------------------------------

    my $vars = "uri=/vars args=a=1&b=2 is_args=? host=loc.test method=GET "
      . "request_uri=/vars?a=1&b=2 a=1 proto=HTTP/1.1 server=loc.test\n";
    check(get('/vars?a=1&b=2', Host => 'LOC.test:1234'),
        'return 200 text with variables',
        line => 'HTTP/1.1 200 OK',
        h    => { 'Content-Type' => 'text/plain',
            'Content-Length' => length $vars },
        body => $vars);
    check(req("GET /vars%41 HTTP/1.0\r\n\r\n"),
        'return text: variables of an HTTP/1.0 request without Host',
        line => 'HTTP/1.1 200 OK',
        body => "uri=/varsA args= is_args= host=loc.test method=GET "
          . "request_uri=/vars%41 a= proto=HTTP/1.0 server=loc.test\n");
    check(req("GET http://Loc.Test:99/vars?c=3 HTTP/1.1\r\nHost: other\r\n"
            . "\r\n"),
        'return text: variables of an absolute-form request',
        line => 'HTTP/1.1 200 OK',
        body => "uri=/vars args=c=3 is_args=? host=loc.test method=GET "
          . "request_uri=/vars?c=3 a= proto=HTTP/1.1 server=loc.test\n");
    check(get('/vars', method => 'HEAD'), 'return text for HEAD: no body',
        line => 'HTTP/1.1 200 OK', h => { 'Content-Length' => qr/^\d+$/ },
        body => '');
    check(get('/ret-typed/a.html'),
        'return text: Content-Type from the URI extension (nginx)',
        line => 'HTTP/1.1 200 OK', h => { 'Content-Type' => 'text/html' },
        body => "typed\n");
    check(get('/ret404text'), 'return 404 "text": the text, not a page',
        line => 'HTTP/1.1 404 Not Found', body => "custom not found\n");
    check(get('/ret403'), 'return 403: the built-in page',
        line => 'HTTP/1.1 403 Forbidden', body => page('403 Forbidden'));
    check(get('/ret301'), 'return 301 URL',
        line => 'HTTP/1.1 301 Moved Permanently',
        h    => { 'Location' => 'http://example.com/x' },
        body => page('301 Moved Permanently'));
    check(get('/ret302'), 'return 302 /path: made absolute',
        line => 'HTTP/1.1 302 Moved Temporarily',
        h    => { 'Location' => "http://loc.test:$p1/relative/target" });
    check(get('/ret307'), 'return 307 URL',
        line => 'HTTP/1.1 307 Temporary Redirect',
        h    => { 'Location' => 'http://example.com/t' });
    check(get('/ret-url'), 'return URL: 302',
        line => 'HTTP/1.1 302 Moved Temporarily',
        h    => { 'Location' => 'http://example.com/lone' });

    {
        my $c = WmHttpClient->new($p1);
        $c->send("GET /ret204 HTTP/1.1\r\nHost: loc.test\r\n\r\n");
        my $r = $c->read_response;
        check($r, 'return 204', line => 'HTTP/1.1 204 No Content',
            h => { 'Content-Length' => undef, 'Content-Type' => undef,
                'Transfer-Encoding' => undef, 'Connection' => 'keep-alive' },
            body => '');
        $c->send("GET /exact HTTP/1.1\r\nHost: loc.test\r\n\r\n");
        check($c->read_response, 'return 204 sent no body: the next response '
              . 'follows', line => 'HTTP/1.1 200 OK', body => "exact\n");
    }

    is($t->talk($p1, "GET /ret444 HTTP/1.1\r\nHost: loc.test\r\n\r\n",
            keep_open => 1), '',
        'return 444 closes the connection without a byte');
    text_is('/exact', "exact\n", 'still serving after 444');

    # ---- server level -------------------------------------------------------

    $port = $p_srv;
    check(get('/srv/here.txt', Host => 'srv.test'), 'a server serving files',
        line => 'HTTP/1.1 200 OK', body => "here\n");
    check(get('/srv/missing', Host => 'srv.test'),
        'a server-level error_page applies in its locations',
        line => 'HTTP/1.1 404 Not Found', body => "custom 404 page\n");
    check(get('/boom', Host => 'srv.test'),
        'error_page 500 502 503 504 /50x.html with a relative root',
        line => 'HTTP/1.1 502 Bad Gateway',
        h    => { 'Content-Type' => 'text/html' },
        body => "custom 50x page\n");
    check(get('/50x.html', Host => 'srv.test'), 'the 50x page itself',
        line => 'HTTP/1.1 200 OK', body => "custom 50x page\n");
    check(get('/redirect/a?b=1', Host => 'srv.test'),
        'return 301 with $request_uri',
        line => 'HTTP/1.1 301 Moved Permanently',
        h    => { 'Location' => 'http://example.com/redirect/a?b=1' });

    $t->stop;
});

# ---- server_name ------------------------------------------------------------

my @names = (
    [ 'exact.test',      "exact host=exact.test server_name=exact.test\n" ],
    [ 'alias.test',      "exact host=alias.test server_name=exact.test\n" ],
    [ 'EXACT.Test:8080', "exact host=exact.test server_name=exact.test\n" ],
    [ 'exact.test.',     "exact host=exact.test server_name=exact.test\n" ],
    [ 'first.test',      "first\n" ],
    [ 'a.wild.test',     "head wildcard\n" ],
    [ 'a.b.c.wild.test', "head wildcard\n" ],
    [ 'x.b.wild.test',   "longer head wildcard\n" ],
    [ 'www.wild.test',   "head wildcard\n" ],
    [ 'www.example.org', "tail wildcard\n" ],
    [ 'WWW.Example.ORG', "tail wildcard\n" ],
    [ 'abc.re.test',     "regex 1\n" ],
    [ 'bcd.re.test',     "regex 1\n" ],
    [ 'bzz.test',        "regex 2\n" ],
    [ 'dot.test',        "dot\n" ],
    [ 'a.dot.test',      "dot\n" ],
    [ 'wild.test',       "default\n" ],
    [ 'unknown.test',    "default\n" ],
    [ '127.0.0.1',       "default\n" ],
);

for my $first (0, 1) {
    my $where = $first ? 'first' : 'last';
    $t->section("server_name, default_server listed $where" => sub {
        my ($pa, $pb) = ($t->port, $t->port);
        $t->write_conf(names_conf($pa, $pb, $first),
            name => "names-$where.conf");
        $t->start(workers => 1, ports => [ $pa, $pb ]) or return;

        $port = $pa;
        for (@names) {
            my ($host, $body) = @$_;
            text_is('/', $body, "Host: $host", Host => $host);
        }
        check(req("GET / HTTP/1.0\r\n\r\n"),
            'HTTP/1.0 without Host: the default_server',
            line => 'HTTP/1.1 200 OK', body => "default\n");
        check(req("GET http://exact.test/ HTTP/1.1\r\nHost: first.test\r\n"
                . "\r\n"),
            'an absolute-form URI picks the server by its host',
            line => 'HTTP/1.1 200 OK',
            body => "exact host=exact.test server_name=exact.test\n");

        $port = $pb;
        text_is('/', "two\n", 'the second server by name',
            Host => 'two.test');
        text_is('/', "one\n",
            'without default_server the first server is the default',
            Host => 'nobody.test');
        $t->stop;
    });
}

# Named captures of a location regex are variables in nginx.
$t->section('named captures' => sub {
    my $p = $t->port;
    $t->write_conf(<<"EOF", name => 'named.conf');
worker_processes 1;
events { }
http {
    server {
        listen 127.0.0.1:$p;
        location ~ ^/n/(?<first>\\w+)/(?<second>\\d+)\$ {
            return 200 "first=\$first second=\$second\\n";
        }
    }
}
EOF
    $t->start(workers => 1, ports => [$p]) or return;
    $port = $p;
    text_is('/n/abc/12', "first=abc second=12\n",
        'named captures $first and $second');
    $t->stop;
});

unlike($t->log_text, qr/\[(?:crit|alert|emerg)\]/,
    'no [crit], [alert] or [emerg] in the error log');

$t->done;
