#version 330 core
// Mirror: one half of the picture reflected onto the other. x=1 keeps the left half and
// reflects it to the right, x=-1 keeps the right half; y=1 keeps the top half, y=-1 the
// bottom; both at once make four quadrants. At 0 (the defaults) the chain skips it.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;

uniform float x; // @param default=0.0 min=-1.0 max=1.0 bypass=0
uniform float y; // @param default=0.0 min=-1.0 max=1.0 bypass=0

void main() {
    vec2 uv = v_uv;
    float fx = abs(uv.x - 0.5), fy = abs(uv.y - 0.5);  // v_uv.y = 1 is the top
    uv.x = x > 0.5 ? 0.5 - fx : (x < -0.5 ? 0.5 + fx : uv.x);
    uv.y = y > 0.5 ? 0.5 + fy : (y < -0.5 ? 0.5 - fy : uv.y);
    f_color = vec4(texture(u_source, uv).rgb, 1.0);
}
