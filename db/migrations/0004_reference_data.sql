-- Reference data that is public fact, not demo: regions and districts by their GB/T 2260
-- codes, and the programmes. Partner provinces list the prefecture-level cities seen in
-- cross-store returns so far; more are added by later migrations as partners join.

INSERT INTO region (code, name, name_en, is_partner) VALUES
    ('310000', '上海市', 'Shanghai', false),
    ('320000', '江苏省', 'Jiangsu', true),
    ('330000', '浙江省', 'Zhejiang', true),
    ('340000', '安徽省', 'Anhui', true);

INSERT INTO district (code, region_code, name, name_en, kind) VALUES
    ('310101', '310000', '黄浦区', 'Huangpu', 'district'),
    ('310104', '310000', '徐汇区', 'Xuhui', 'district'),
    ('310105', '310000', '长宁区', 'Changning', 'district'),
    ('310106', '310000', '静安区', 'Jing''an', 'district'),
    ('310107', '310000', '普陀区', 'Putuo', 'district'),
    ('310109', '310000', '虹口区', 'Hongkou', 'district'),
    ('310110', '310000', '杨浦区', 'Yangpu', 'district'),
    ('310112', '310000', '闵行区', 'Minhang', 'district'),
    ('310113', '310000', '宝山区', 'Baoshan', 'district'),
    ('310114', '310000', '嘉定区', 'Jiading', 'district'),
    ('310115', '310000', '浦东新区', 'Pudong', 'district'),
    ('310116', '310000', '金山区', 'Jinshan', 'district'),
    ('310117', '310000', '松江区', 'Songjiang', 'district'),
    ('310118', '310000', '青浦区', 'Qingpu', 'district'),
    ('310120', '310000', '奉贤区', 'Fengxian', 'district'),
    ('310151', '310000', '崇明区', 'Chongming', 'district'),
    ('320100', '320000', '南京市', 'Nanjing', 'city'),
    ('320200', '320000', '无锡市', 'Wuxi', 'city'),
    ('320500', '320000', '苏州市', 'Suzhou', 'city'),
    ('330100', '330000', '杭州市', 'Hangzhou', 'city'),
    ('330200', '330000', '宁波市', 'Ningbo', 'city'),
    ('330400', '330000', '嘉兴市', 'Jiaxing', 'city'),
    ('340100', '340000', '合肥市', 'Hefei', 'city'),
    ('340200', '340000', '芜湖市', 'Wuhu', 'city');

INSERT INTO programme (code, name, name_en, launched_on, description, min_committed_days) VALUES
    ('reassured_consumption', '放心消费', 'Reassured consumption', NULL,
     'Units certified at one of three levels: excellent (优秀), compliant (达标), committed (承诺).', NULL),
    ('offline_no_reason_return', '线下无理由退换货', 'Offline no-reason returns', '2019-07-01',
     'Shops commit to 7-day no-reason returns in physical stores.', 7),
    ('odr', '在线纠纷解决', 'Online dispute resolution (ODR)', NULL,
     'Enterprises settle consumer complaints online through the national 12315 platform within 10 working days.', NULL),
    ('yrd_cross_store_return', '长三角异地异店退换货', 'Yangtze Delta cross-region, cross-store returns', '2020-05-14',
     'Buy from a committed brand in one of Shanghai, Jiangsu, Zhejiang or Anhui; return or exchange at another committed store of that brand in another city.', 7),
    ('pre_compensation', '先行赔付', 'Pre-compensation', NULL,
     'Markets, malls, platforms and chains pay the consumer first.', NULL);

INSERT INTO star_batch (number, announced_on, title) VALUES
    (1, '2019-03-15', '上海市首批五星级、四星级消费维权联络点(站)'),
    (2, '2020-09-28', '上海市第二批五星级、四星级消费维权联络点(站)');
