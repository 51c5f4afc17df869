/** Vocabulary of the seed org (scripts/make-seed.ts): names, companies, real city/state/postcode/lat-long tuples. */

export const FIRST_NAMES = [
  'James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth', 'William', 'Barbara',
  'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen', 'Priya', 'Arjun', 'Wei', 'Mei', 'Hiroshi',
  'Yuki', 'Olumide', 'Chiamaka', 'José', 'María', 'François', 'Zoë', 'Søren', 'Björn', 'Łukasz', 'Ángel', 'Noël', 'Chloé',
  'Jürgen', 'Ana', 'Mateo', 'Sofía', 'Ahmed', 'Fatima', 'Ivan', 'Olga', 'Siobhán', 'Seán', 'Aoife', 'Kenji', '太郎', '花子',
  '伟', '秀英', '민준', '서연', 'Nguyễn', 'Thảo', 'Dvořák', 'O\'Neil',
];

export const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez',
  'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Thompson', 'White', 'Harris',
  'Müller', 'Schröder', 'Dubois', 'Lefèvre', 'Núñez', 'Peña', 'Østergaard', 'Kowalczyk', 'Šimek', 'Çelik', 'Yılmaz', 'Nakamura',
  'Tanaka', 'Suzuki', 'Chen', 'Wang', 'Zhang', 'Kim', 'Park', 'Singh', 'Patel', 'Okafor', 'Adeyemi', 'O\'Brien', 'McAllister',
  'van der Berg', 'de la Cruz', '山田', '鈴木', '王', '李', '김', 'Иванов', 'Petrović', 'Nováková', 'Håkansson',
];

export const TITLES = [
  'CEO', 'CFO', 'CTO', 'VP, Sales', 'VP, Engineering', 'Director of Operations', 'Head of Procurement', 'Account Manager',
  'Sales Representative', 'Software Engineer', 'Purchasing Manager', 'Office Manager', 'Controller', 'Data Analyst',
  'Marketing Manager', 'Chief of Staff', 'IT Manager', 'Buyer', 'General Counsel', 'Product Manager',
];

export const COMPANY_PARTS = {
  first: [
    'Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Cyberdyne', 'Soylent', 'Tyrell', 'Wonka', 'Hooli', 'Vandelay',
    'Pied Piper', 'Massive', 'Dunder', 'Gringotts', 'Oceanic', 'Nakatomi', 'Aperture', 'Black Mesa', 'Blue Sun', 'Monarch',
    'Nordwind', 'Sonnenschein', 'Étoile', 'Café du Monde', 'Zürich', 'São Paulo', 'Kraków', 'Ålesund', 'Montréal', 'Cañón',
    'Polar', 'Summit', 'Redwood', 'Granite', 'Harbor', 'Lighthouse', 'Silverline', 'Northwind', 'Contoso', 'Fabrikam',
  ],
  second: [
    'Industries', 'Systems', 'Logistics', 'Analytics', 'Foods', 'Pharma', 'Energy', 'Robotics', 'Holdings', 'Partners',
    'Labs', 'Works', 'Trading', 'Dynamics', 'Solutions', 'Capital', 'Textiles', 'Software', 'Motors', 'Farms', 'Media',
    'Brewing', 'Aerospace', 'Consulting', 'Retail', 'Shipping', 'Biotech', 'Networks',
  ],
  suffix: ['Inc', 'LLC', 'Ltd', 'GmbH', 'S.A.', 'AG', 'K.K.', 'PLC', 'Co.', 'Group', 'SARL', 'B.V.'],
  cjk: [
    '株式会社山田製作所', '東京精密工業', '大阪物流株式会社', '北京科技有限公司', '上海贸易集团', '深圳电子有限公司', '삼성물산', '한빛소프트',
    '京都お茶屋', '台北半導體', '香港航運', '名古屋自動車部品',
  ],
  emoji: ['🚀', '☕', '🌮', '🎸', '🌱', '⚡', '🐙', '🍣'],
};

export const WORDS = [
  'quarterly', 'review', 'renewal', 'pricing', 'contract', 'pilot', 'integration', 'rollout', 'budget', 'approval', 'customer',
  'support', 'migration', 'training', 'onboarding', 'security', 'audit', 'invoice', 'shipment', 'warehouse', 'forecast', 'upsell',
  'discount', 'feedback', 'meeting', 'demo', 'proposal', 'legal', 'procurement', 'signature', 'expansion', 'region', 'partner',
  'schedule', 'delivery', 'quality', 'résumé', 'naïve', 'coöperate', 'über', 'façade', 'déjà vu', 'piñata', '会議', '見積', '合同',
  'ok 👍', 'urgent ⚠️', '50% off', 'A&B', '<tag>', 'semi;colon', 'tab\tseparated', 'comma, inside',
];

export interface AddressTuple {
  readonly street: string;
  readonly city: string;
  readonly state: string | null;
  readonly postalCode: string;
  readonly country: string;
  readonly lat: number;
  readonly lng: number;
}

const a = (street: string, city: string, state: string | null, postalCode: string, country: string, lat: number, lng: number): AddressTuple => ({
  street, city, state, postalCode, country, lat, lng,
});

export const ADDRESSES: readonly AddressTuple[] = [
  a('Market Street', 'San Francisco', 'CA', '94105', 'United States', 37.7897, -122.3972),
  a('Broadway', 'New York', 'NY', '10006', 'United States', 40.7081, -74.0113),
  a('Michigan Avenue', 'Chicago', 'IL', '60611', 'United States', 41.8947, -87.6244),
  a('Congress Avenue', 'Austin', 'TX', '78701', 'United States', 30.2686, -97.7428),
  a('Pike Street', 'Seattle', 'WA', '98101', 'United States', 47.6105, -122.3384),
  a('Peachtree Street NE', 'Atlanta', 'GA', '30303', 'United States', 33.7590, -84.3880),
  a('Boylston Street', 'Boston', 'MA', '02116', 'United States', 42.3496, -71.0770),
  a('16th Street Mall', 'Denver', 'CO', '80202', 'United States', 39.7475, -104.9945),
  a('Biscayne Boulevard', 'Miami', 'FL', '33132', 'United States', 25.7839, -80.1869),
  a('Wilshire Boulevard', 'Los Angeles', 'CA', '90017', 'United States', 34.0522, -118.2560),
  a('Yonge Street', 'Toronto', 'ON', 'M5B 2H1', 'Canada', 43.6561, -79.3802),
  a('Rue Sainte-Catherine Ouest', 'Montréal', 'QC', 'H3B 1A7', 'Canada', 45.5017, -73.5673),
  a('Oxford Street', 'London', null, 'W1D 1BS', 'United Kingdom', 51.5154, -0.1410),
  a('Deansgate', 'Manchester', null, 'M3 2BW', 'United Kingdom', 53.4794, -2.2479),
  a('Rue de Rivoli', 'Paris', null, '75001', 'France', 48.8606, 2.3376),
  a('Cours Mirabeau', 'Aix-en-Provence', null, '13100', 'France', 43.5263, 5.4474),
  a('Friedrichstraße', 'Berlin', null, '10117', 'Germany', 52.5163, 13.3889),
  a('Königsallee', 'Düsseldorf', null, '40212', 'Germany', 51.2231, 6.7795),
  a('Bahnhofstrasse', 'Zürich', 'ZH', '8001', 'Switzerland', 47.3725, 8.5390),
  a('Gran Vía', 'Madrid', null, '28013', 'Spain', 40.4200, -3.7058),
  a('Passeig de Gràcia', 'Barcelona', null, '08007', 'Spain', 41.3917, 2.1649),
  a('Via del Corso', 'Roma', 'RM', '00186', 'Italy', 41.9009, 12.4801),
  a('Damrak', 'Amsterdam', null, '1012 LG', 'Netherlands', 52.3747, 4.8980),
  a('Drottninggatan', 'Stockholm', null, '111 51', 'Sweden', 59.3326, 18.0649),
  a('Karl Johans gate', 'Oslo', null, '0154', 'Norway', 59.9133, 10.7389),
  a('ul. Floriańska', 'Kraków', null, '31-019', 'Poland', 50.0647, 19.9450),
  a('銀座4丁目', '東京', '東京都', '104-0061', 'Japan', 35.6717, 139.7650),
  a('梅田1丁目', '大阪市', '大阪府', '530-0001', 'Japan', 34.7025, 135.4959),
  a('南京东路', '上海', '上海市', '200001', 'China', 31.2363, 121.4803),
  a('테헤란로', '서울', '서울특별시', '06164', 'South Korea', 37.5045, 127.0490),
  a('Orchard Road', 'Singapore', null, '238879', 'Singapore', 1.3048, 103.8318),
  a('George Street', 'Sydney', 'NSW', '2000', 'Australia', -33.8688, 151.2093),
  a('Collins Street', 'Melbourne', 'VIC', '3000', 'Australia', -37.8150, 144.9660),
  a('Avenida Paulista', 'São Paulo', 'SP', '01310-100', 'Brazil', -23.5614, -46.6559),
  a('Paseo de la Reforma', 'Ciudad de México', 'CDMX', '06600', 'Mexico', 19.4270, -99.1677),
  a('MG Road', 'Bengaluru', 'KA', '560001', 'India', 12.9756, 77.6050),
  a('Nelson Mandela Boulevard', 'Cape Town', 'WC', '8001', 'South Africa', -33.9249, 18.4241),
  a('Sheikh Zayed Road', 'Dubai', null, '00000', 'United Arab Emirates', 25.2048, 55.2708),
];
