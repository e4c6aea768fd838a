#!/usr/bin/perl
# map in http: exact keys (case-insensitive, "", \default), hostnames
# wildcards in nginx's order, regexes with numbered and named captures,
# default and its absence, include, a source made of two variables, a map
# of a map, map values in return (text and redirect), add_header and if,
# the $connection_upgrade idiom, a value kept for the whole request even
# when the URI changes (and re-evaluated with volatile), map_hash_*
# accepted. The same http block runs under Debian's nginx (when
# /usr/sbin/nginx exists) and each answer must be the same from both.
# Then a map that uses its own value (logged, empty), a map in the YAML
# form and the -t errors.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmNginx;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($wport, $nport) = ($t->port, $t->port);

$t->write_file('maps/inc.map', "inc-a  from-include-a;\ninc-b  from-include-b;\n");

sub http_body {
    my $port = shift;
    return <<"EOF";
    default_type text/plain;
    map_hash_bucket_size 128;
    map_hash_max_size 4096;

    map \$arg_k \$exact {
        default    dflt;
        a          is-a;
        MiXeD      is-mixed;
        ""         empty;
        \\default   literal-default;
    }
    map \$host \$hn {
        hostnames;
        default           none;
        example.com       exact;
        *.example.com     head;
        *.b.example.com   head-b;
        .example.org      dot;
        www.example.*     tail-www;
        www.*             tail;
        ~^www\\.ex        regex;
        ~^(?<sub>[a-z]+)\\.re\\.test\$ "re-\$sub";
    }
    map \$uri \$re {
        ~^/re/(\\d+)/(?<word>[a-z]+)\$  "n=\$1 w=\$word";
        ~*^/re/CI/                    caseless;
        ~^/re/ci/                     never-reached;
        /re/exact                     exact-before-regex;
        ~^/re/                        first-of-two;
        ~^/re/x                       second-of-two;
        default                       no-match;
    }
    map \$arg_k \$nodefault { a has-a; }
    map \$arg_i \$inc {
        include $P/maps/inc.map;
        default not-included;
    }
    map \$host\$uri \$combo {
        default          other;
        combo.test/combo host-and-uri;
    }
    map \$exact \$chain {
        is-a     chained-a;
        default  "chained-\$exact";
    }
    map \$arg_to \$redir {
        default  /fallback;
        ext      http://ext.test/path;
    }
    map \$arg_h \$hdr {
        default  "";
        yes      "header-\$arg_h";
    }
    map \$arg_f \$flag {
        default  0;
        1        1;
    }
    map \$http_upgrade \$connection_upgrade {
        default  upgrade;
        ""       close;
    }
    map \$uri \$cached { default "\$uri"; }
    map \$uri \$vol { volatile; default "\$uri"; }

    server {
        listen 127.0.0.1:$port;
        server_name map.test;

        location = /exact { return 200 "exact=\$exact nodefault=[\$nodefault]\\n"; }
        location = /nore { return 200 "re=\$re\\n"; }
        location = /hn { return 200 "hn=\$hn\\n"; }
        location /re/ { return 200 "re=\$re word=\$word\\n"; }
        location = /inc { return 200 "inc=\$inc\\n"; }
        location = /combo { return 200 "combo=\$combo\\n"; }
        location = /chain { return 200 "chain=\$chain\\n"; }
        location = /redir { return 302 \$redir; }
        location = /hdr {
            add_header X-Map \$hdr;
            return 200 "hdr\\n";
        }
        location = /if {
            if (\$flag) { return 200 "flag on\\n"; }
            return 200 "flag off\\n";
        }
        location = /upgrade { return 200 "connection=\$connection_upgrade\\n"; }
        location /cache/ {
            set \$before "\$cached|\$vol";
            rewrite ^ /changed;
            return 200 "before=\$before after=\$cached|\$vol uri=\$uri\\n";
        }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) = WmNginx::start_pair($t, \&http_body, $wport,
    $nport);
$wm_up or do { $t->done; exit };

my $OK = 'HTTP/1.1 200 OK';
# [name, request target, [headers], status line, body, {header => value}]
my @req = (
    [ 'an exact key', '/exact?k=a', [], $OK, "exact=is-a nodefault=[has-a]\n" ],
    [ 'exact keys ignore case', '/exact?k=A', [], $OK,
        "exact=is-a nodefault=[has-a]\n" ],
    [ 'a key written in mixed case', '/exact?k=mixed', [], $OK,
        "exact=is-mixed nodefault=[]\n" ],
    [ 'the empty key', '/exact', [], $OK, "exact=empty nodefault=[]\n" ],
    [ '\\default is a key', '/exact?k=default', [], $OK,
        "exact=literal-default nodefault=[]\n" ],
    [ 'no key: the default; no default: empty', '/exact?k=zz', [], $OK,
        "exact=dflt nodefault=[]\n" ],
    [ 'hostnames: exact', '/hn', ['Host: example.com'], $OK, "hn=exact\n" ],
    [ 'hostnames: capitals and a final dot', '/hn', ['Host: EXAMPLE.com.'],
        $OK, "hn=exact\n" ],
    [ 'hostnames: *.example.com', '/hn', ['Host: a.example.com'], $OK,
        "hn=head\n" ],
    [ 'hostnames: deeper names', '/hn', ['Host: x.y.example.com'], $OK,
        "hn=head\n" ],
    [ 'hostnames: the longest leading wildcard', '/hn',
        ['Host: a.b.example.com'], $OK, "hn=head-b\n" ],
    [ 'hostnames: .example.org itself', '/hn', ['Host: example.org'], $OK,
        "hn=dot\n" ],
    [ 'hostnames: below .example.org', '/hn', ['Host: w.example.org'], $OK,
        "hn=dot\n" ],
    [ 'hostnames: the longest trailing wildcard', '/hn',
        ['Host: www.example.net'], $OK, "hn=tail-www\n" ],
    [ 'hostnames: www.*', '/hn', ['Host: www.other.net'], $OK, "hn=tail\n" ],
    [ 'hostnames: leading before trailing', '/hn', ['Host: www.example.com'],
        $OK, "hn=head\n" ],
    [ 'hostnames: wildcards before regexes', '/hn', ['Host: www.exz'], $OK,
        "hn=tail\n" ],
    [ 'hostnames: a regex with a named capture', '/hn',
        ['Host: abc.re.test'], $OK, "hn=re-abc\n" ],
    [ 'hostnames: nothing matches', '/hn', ['Host: nothing.test'], $OK,
        "hn=none\n" ],
    [ 'regex: numbered and named captures', '/re/42/abc', [], $OK,
        "re=n=42 w=abc word=abc\n" ],
    [ 'regex: ~* before a later ~', '/re/ci/x', [], $OK,
        "re=caseless word=\n" ],
    [ 'regex: an exact key first', '/re/exact', [], $OK,
        "re=exact-before-regex word=\n" ],
    [ 'regex: the first that matches', '/re/xyz', [], $OK,
        "re=first-of-two word=\n" ],
    [ 'regex: none matches', '/nore', [], $OK, "re=no-match\n" ],
    [ 'include in a map: first key', '/inc?i=inc-a', [], $OK,
        "inc=from-include-a\n" ],
    [ 'include in a map: second key', '/inc?i=inc-b', [], $OK,
        "inc=from-include-b\n" ],
    [ 'include in a map: default', '/inc?i=x', [], $OK, "inc=not-included\n" ],
    [ 'a source of two variables', '/combo', ['Host: combo.test'], $OK,
        "combo=host-and-uri\n" ],
    [ 'a source of two variables: default', '/combo', ['Host: other.test'],
        $OK, "combo=other\n" ],
    [ 'a map of a map', '/chain?k=a', [], $OK, "chain=chained-a\n" ],
    [ 'a map of a map: default with a variable', '/chain?k=q', [], $OK,
        "chain=chained-dflt\n" ],
    [ 'return 302 to a map value', '/redir?to=ext', [],
        'HTTP/1.1 302 Moved Temporarily', undef,
        { location => 'http://ext.test/path' } ],
    [ 'add_header with a map value', '/hdr?h=yes', [], $OK, "hdr\n",
        { 'x-map' => 'header-yes' } ],
    [ 'add_header with an empty map value adds nothing', '/hdr', [], $OK,
        "hdr\n", { 'x-map' => undef } ],
    [ 'if on a map: true', '/if?f=1', [], $OK, "flag on\n" ],
    [ 'if on a map: "0" is false', '/if?f=2', [], $OK, "flag off\n" ],
    [ '$connection_upgrade with Upgrade', '/upgrade',
        ['Upgrade: websocket'], $OK, "connection=upgrade\n" ],
    [ '$connection_upgrade without', '/upgrade', [], $OK,
        "connection=close\n" ],
    [ 'a value is kept for the request; volatile is not', '/cache/x', [],
        $OK, "before=/cache/x|/cache/x after=/cache/x|/changed uri=/changed\n" ],
);

for my $q (@req) {
    my ($name, $target, $h, $line, $body, $hdrs) = @$q;
    my @fields = sort keys %{ $hdrs // {} };
    my @hh = grep { /^Host:/i } @$h ? @$h : ();
    my @send = (@$h, @hh ? () : ('Host: map.test'));
    my $w = WmNginx::fetch($wport, "GET $target HTTP/1.1", @send);
    if ($w->{error}) {
        fail("$name: $w->{error}");
        next;
    }
    is($w->{line}, $line, "$name: $line");
    is($w->{body}, $body, "$name: body") if defined $body;
    for my $f (@fields) {
        is($w->{h}{$f}, $hdrs->{$f},
            "$name: $f " . ($hdrs->{$f} // '<none>'));
    }
    next unless $ng;
    my $n = WmNginx::fetch($nport, "GET $target HTTP/1.1", @send);
    is_deeply(WmNginx::comparable($w, $wport, @fields),
        WmNginx::comparable($n, $nport, @fields), "nginx: $name: the same");
}

my $log = $t->log_text;
unlike($log, qr/\[(?:error|crit|alert)\]/, 'no error logged');
$ng->stop if $ng;
$t->stop;

# ---- a map that uses its own value ------------------------------------------

$t->section('a map cycle is logged and the value is empty' => sub {
    my $p = $t->port;
    $t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    map \$self \$self { default "x\$self"; }
    map \$arg_a \$ring_a { default "a\$ring_b"; }
    map \$arg_b \$ring_b { default "b\$ring_a"; }
    server {
        listen 127.0.0.1:$p;
        location = /self { return 200 "self=[\$self]\\n"; }
        location = /ring { return 200 "ring=[\$ring_a]\\n"; }
    }
}
EOF
    $t->start(workers => 1, ports => [$p]) or return;
    my $off = $t->log_size;
    my $r = WmNginx::fetch($p, 'GET /self HTTP/1.1');
    is($r->{body}, "self=[x]\n", 'a map of itself: its own use is empty');
    ok($t->wait_log(qr/\[error\] \d+#\d+: the map of "\$self" uses its own value, client: 127\.0\.0\.1, server: , request: "GET \/self HTTP\/1\.1"/,
            from => $off), 'the cycle is logged with its request');
    $r = WmNginx::fetch($p, 'GET /ring HTTP/1.1');
    is($r->{body}, "ring=[ab]\n", 'a ring of two maps stops where it closes');
    ok($t->wait_log(qr/the map of "\$ring_a" uses its own value/, from => $off),
        'the ring is logged');
    is(WmNginx::fetch($p, 'GET /self HTTP/1.1')->{line}, 'HTTP/1.1 200 OK',
        'still serving');
    $t->stop;
});

# ---- the YAML form ---------------------------------------------------------

$t->section('a map in YAML' => sub {
    my $p = $t->port;
    $t->write_yaml(<<"EOF");
worker_processes: "1"
events: {}
http:
  map \$host \$hx:
    hostnames:
    "*.example.com": wild
    "'~^(?<n>[a-z]+)\\\\.re\$'": "re-\$n"
    default: none
  server:
    listen: 127.0.0.1:$p
    location /:
      return: [200, "hx=\$hx\\n"]
EOF
    $t->start(workers => 1, ports => [$p]) or return;
    is(WmNginx::fetch($p, 'GET / HTTP/1.1', 'Host: a.example.com')->{body},
        "hx=wild\n", 'a wildcard key');
    is(WmNginx::fetch($p, 'GET / HTTP/1.1', 'Host: abc.re')->{body},
        "hx=re-abc\n", 'a regex key with a named capture');
    is(WmNginx::fetch($p, 'GET / HTTP/1.1', 'Host: other')->{body},
        "hx=none\n", 'the default');
    $t->stop;
});

# ---- -t errors -----------------------------------------------------------------

my @bad = (
    [ 'a duplicate key', "map \$uri \$a {\n a 1;\n b 2;\n A 3;\n}",
        qr/:6: "map" directive has duplicate key "A"\n/ ],
    [ 'two defaults', "map \$uri \$a {\n default 1;\n default 2;\n}",
        qr/:5: "map" directive has duplicate default value\n/ ],
    [ 'a bad regex', "map \$uri \$a {\n ~( 1;\n}",
        qr/:4: "map" directive has an invalid regex "\(": missing closing parenthesis at 1\n/ ],
    [ 'a key without a value', "map \$uri \$a {\n a;\n}",
        qr/:4: "map" directive has invalid entry "a": a key takes one value\n/ ],
    [ 'a bad wildcard', "map \$host \$a {\n hostnames;\n *.a.* 1;\n}",
        qr/:5: "map" directive has invalid hostname or wildcard "\*\.a\.\*"\n/ ],
    [ 'an unknown variable in a value', "map \$uri \$a {\n a \$nosuch;\n}",
        qr/:4: "map" directive uses unknown "nosuch" variable\n/ ],
    [ 'an unknown variable as the source', "map \$nosuch \$a { }",
        qr/:3: "map" directive uses unknown "nosuch" variable\n/ ],
    [ 'a built-in variable', "map \$uri \$host { }",
        qr/:3: "map" directive has duplicate "host" variable\n/ ],
    [ 'a variable of every module', "map \$uri \$hostname { }",
        qr/:3: "map" directive has duplicate "hostname" variable\n/ ],
    [ 'a variable of set', "map \$uri \$s { }\nserver { set \$s 1; }",
        qr/:3: "map" directive has duplicate "s" variable\n/ ],
    [ 'the same variable twice', "map \$uri \$a { }\nmap \$uri \$a { }",
        qr/:4: "map" directive has duplicate "a" variable\n/ ],
    [ 'a bad variable name', "map \$uri a { }",
        qr/:3: "map" directive has invalid variable name "a"\n/ ],
    [ 'a map without a block', "map \$uri \$a;",
        qr/:3: "map" directive has no opening "\{"\n/ ],
    [ 'a bad map_hash_bucket_size', "map_hash_bucket_size x;",
        qr/:3: "map_hash_bucket_size" directive has invalid value "x"\n/ ],
    [ 'map in a server', "server { map \$uri \$a { } }",
        qr/:3: "map" directive is not allowed here\n/ ],
);
for my $b (@bad) {
    my ($name, $http, $re) = @$b;
    my $f = $t->write_conf(<<"EOF", raw => 1, name => 'bad.conf');
events { }
http {
$http
}
EOF
    my $r = $t->run('-p', "$P/", '-c', $f, '-t');
    is($r->{code}, 1, "-t $name: exit 1");
    like($r->{stderr}, qr/^\Q$f\E$re/m, "-t $name: file:line and message")
      or diag($r->{stderr});
}
{
    my $f = $t->write_conf("events { }\nmap \$uri \$a { }\n", raw => 1,
        name => 'bad.conf');
    my $r = $t->run('-p', "$P/", '-c', $f, '-t');
    is($r->{code}, 1, '-t map outside http: exit 1');
    like($r->{stderr}, qr/^\Q$f\E:2: "map" directive is not allowed here$/m,
        '-t map outside http: file:line and message');
}

$t->done;
