#version 330 core
// Kaleidoscope: the picture folded into `segments` mirrored wedges about the centre (2..32;
// below 2, e.g. the default 0, it is off and the chain skips it). `rotate` turns the mirrors
// (degrees), `spin` turns them on their own (degrees per second), `zoom` magnifies the wedge.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;
uniform float u_time;

uniform float segments; // @param default=0.0 min=0.0 max=32.0 bypass=0
uniform float rotate;   // @param default=0.0 min=-180.0 max=180.0
uniform float spin;     // @param default=0.0 min=-360.0 max=360.0
uniform float zoom;     // @param default=1.0 min=0.25 max=4.0

const float TAU = 6.28318530718;

void main() {
    if (segments < 2.0) {
        f_color = vec4(texture(u_source, v_uv).rgb, 1.0);
        return;
    }
    vec2 size = vec2(textureSize(u_source, 0));
    vec2 aspect = size / max(size.x, size.y);
    vec2 d = (v_uv - 0.5) * aspect;
    float turn = radians(rotate + spin * u_time);
    float wedge = TAU / floor(segments);
    float a = mod(atan(d.y, d.x) - turn, wedge);
    a = abs(a - 0.5 * wedge) + turn;  // mirror about the wedge's middle: no seams
    vec2 uv = length(d) / zoom * vec2(cos(a), sin(a)) / aspect + 0.5;
    f_color = vec4(texture(u_source, uv).rgb, 1.0);
}
